"""Every series the dashboard and the alert rules read is one the processor exports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chart._promql import usage
from tests.chart.exported_metrics import (
    EXPORTED_METRICS,
    POD_LABELS,
    PROMETHEUS_METRICS,
    STAGES,
    TARGET_LABELS,
    series_names,
)
from tests.chart.test_alert_rules import alert_rules
from tests.chart.test_dashboard import queries


def all_queries() -> Iterator[tuple[str, str]]:
    yield from (("dashboard: " + where, expr) for where, expr in queries())
    for rule in alert_rules():
        yield f"rule {rule['alert']}", rule["expr"]


QUERIES = list(all_queries())


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[where for where, _ in QUERIES])
def test_query_reads_only_exported_series_and_labels(where: str, expr: str) -> None:
    names = series_names()
    used = usage(expr)
    assert used.metrics, f"{where}: no metric found in {expr!r}"
    unknown = used.metrics - names.keys() - PROMETHEUS_METRICS
    assert not unknown, f"{where}: not exported: {sorted(unknown)}"
    metrics = {names[name] for name in used.metrics if name in names}
    known_labels = set(TARGET_LABELS | POD_LABELS)
    for metric in metrics:
        known_labels |= EXPORTED_METRICS[metric].labels
        if EXPORTED_METRICS[metric].kind == "histogram":
            known_labels.add("le")
    for matcher in used.matchers:
        labels = (
            TARGET_LABELS
            | POD_LABELS
            | (
                EXPORTED_METRICS[names[matcher.metric]].labels
                if matcher.metric in names
                else known_labels
            )
        )
        assert matcher.label in labels, f"{where}: {matcher.metric} has no label {matcher.label}"
        if matcher.label == "stage" and matcher.op == "=":
            assert matcher.value in STAGES, f"{where}: unknown stage {matcher.value!r}"
    assert used.grouping <= known_labels, f"{where}: groups by {used.grouping - known_labels}"


def test_the_dashboard_shows_every_exported_metric() -> None:
    names = series_names()
    shown = {names[m] for _, expr in queries() for m in usage(expr).metrics if m in names}
    assert shown == set(EXPORTED_METRICS), f"not on the dashboard: {set(EXPORTED_METRICS) - shown}"


def test_the_metric_reader_finds_names_labels_and_groupings() -> None:
    used = usage(
        'sum by (topic, partition) (rate(telemetry_x_total{stage="source", a=~"b|c"}[5m]))'
        " / on (job) max(up) unless absent(telemetry_y) > bool 0.5"
    )
    assert used.metrics == {"telemetry_x_total", "up", "telemetry_y"}
    assert used.grouping == {"topic", "partition", "job"}
    assert [(m.metric, m.label, m.op, m.value) for m in used.matchers] == [
        ("telemetry_x_total", "stage", "=", "source"),
        ("telemetry_x_total", "a", "=~", "b|c"),
    ]
