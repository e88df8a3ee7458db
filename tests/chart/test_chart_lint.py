"""``helm lint --strict`` for the defaults and every ``ci/*-values.yaml``."""

from __future__ import annotations

from tests.chart._tools import CHART, run_ok
from tests.chart.conftest import values_args


def test_helm_lint_strict(helm: str, scenario: str) -> None:
    out = run_ok([helm, "lint", str(CHART), "--strict", *values_args(scenario)])
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    assert "[WARNING]" not in out
    assert "[ERROR]" not in out


def test_chart_is_v2_with_a_values_schema() -> None:
    chart = (CHART / "Chart.yaml").read_text()
    assert "apiVersion: v2" in chart
    assert (CHART / "values.schema.json").is_file()
    assert (CHART / "templates" / "NOTES.txt").is_file()
