"""The alert rules: ``promtool check rules`` and ``promtool test rules`` (unit tests per alert)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.chart._tools import CHART, run_ok
from tests.chart.conftest import Render, one

RULES = CHART / "rules" / "telemetry-rules.yaml"
RULE_TESTS = CHART / "rules" / "tests" / "telemetry-rules.test.yaml"
ALERTS = {
    "TelemetryProcessorDown",
    "TelemetryConsumerLagGrowing",
    "TelemetryPartitionsPausedTooLong",
    "TelemetryWorkerRestarting",
    "TelemetryDeadLetterRateHigh",
    "TelemetryCommitFailures",
    "TelemetryNoRollupsWhileInputFlows",
}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules(promtool: str) -> None:
    out = run_ok([promtool, "check", "rules", str(RULES)])
    assert f"SUCCESS: {len(ALERTS)} rules found" in out


def test_promtool_test_rules(promtool: str) -> None:
    out = run_ok([promtool, "test", "rules", str(RULE_TESTS)])
    assert "SUCCESS" in out


def test_the_prometheus_rule_object_passes_promtool(
    promtool: str, render: Render, tmp_path: Path
) -> None:
    """What the PrometheusRule installs is a valid rules file (the embedding loses nothing)."""
    rule = one(render("--set", "prometheusRule.enabled=true"), "PrometheusRule")
    path = tmp_path / "from-chart.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    run_ok([promtool, "check", "rules", str(path)])


def test_the_alerts_are_the_documented_ones() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == ["../telemetry-rules.yaml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == ALERTS, f"alerts without a firing test: {ALERTS - firing}"
    assert quiet == ALERTS, f"alerts without a not-firing test: {ALERTS - quiet}"
