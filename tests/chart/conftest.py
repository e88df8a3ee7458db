"""Fixtures for the chart tests: the real ``helm`` and ``promtool``, rendered scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart._tools import CHART, find_tool, run_ok

RELEASE = "prod"
NAMESPACE = "iot"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]

CI_VALUES: dict[str, Path] = {
    path.name.removesuffix("-values.yaml"): path for path in sorted(CHART.glob("ci/*-values.yaml"))
}
"""Scenario name (``minimal``, ``monitoring``, ...) -> its ``ci/<name>-values.yaml``."""

SCENARIOS = ["default", *CI_VALUES]


def values_args(scenario: str) -> list[str]:
    return [] if scenario == "default" else ["--values", str(CI_VALUES[scenario])]


@pytest.fixture(scope="session")
def helm() -> str:
    return find_tool("helm")


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_tool("promtool")


@pytest.fixture(scope="session")
def render(helm: str) -> Render:
    """``render(*helm_args)``: ``helm template`` of the chart, parsed into its objects."""

    def render_chart(*args: str) -> list[Manifest]:
        out = run_ok(
            [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args],
        )
        return [doc for doc in yaml.safe_load_all(out) if doc]

    return render_chart


@pytest.fixture(scope="session")
def rendered_scenarios(render: Render) -> dict[str, list[Manifest]]:
    """Every scenario rendered once per session."""
    return {scenario: render(*values_args(scenario)) for scenario in SCENARIOS}


@pytest.fixture(params=SCENARIOS)
def scenario(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def manifests(rendered_scenarios: dict[str, list[Manifest]], scenario: str) -> list[Manifest]:
    return rendered_scenarios[scenario]


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [obj for obj in manifests if obj["kind"] == kind]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def values_of(scenario: str) -> dict[str, Any]:
    """The scenario's values, merged onto the chart's defaults the way Helm merges maps."""
    merged: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    if scenario != "default":
        _merge(merged, yaml.safe_load(CI_VALUES[scenario].read_text()))
    return merged


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
