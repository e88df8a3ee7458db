"""The metrics the processor exports: the one list the dashboard and the alert rules are held to.

Derived from :data:`telemetry.metrics.INVENTORY`, where every metric is defined. Labels are the
metric's own; Prometheus adds the target labels (:data:`TARGET_LABELS`) when it scrapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from telemetry.metrics import INVENTORY, Kind


class MetricSpec(NamedTuple):
    kind: Kind
    labels: frozenset[str]


EXPORTED_METRICS: Final[Mapping[str, MetricSpec]] = MappingProxyType(
    {spec.exported: MetricSpec(spec.kind, frozenset(spec.labels)) for spec in INVENTORY}
)

STAGES: Final = frozenset({"source", "decode", "aggregate", "sink"})
"""Values of the ``stage`` label."""

TARGET_LABELS: Final = frozenset({"job", "instance", "namespace", "pod", "service", "container"})
"""Labels Prometheus (or the Prometheus Operator's ServiceMonitor) attaches to every series."""

POD_LABELS: Final = frozenset({"worker"})
"""Labels a pod of several workers adds to every series of its workers (``worker="0"``..): a
query must aggregate over them (or keep them on purpose), or one pod's panels split."""

PROMETHEUS_METRICS: Final = frozenset({"up"})
"""Series Prometheus itself produces for each target, allowed in rules and dashboards."""

HISTOGRAM_SUFFIXES: Final = ("_bucket", "_sum", "_count")


def series_names() -> dict[str, str]:
    """Every series name a scrape yields, mapped to its metric (``x_bucket`` -> ``x``)."""
    names: dict[str, str] = {}
    for name, spec in EXPORTED_METRICS.items():
        if spec.kind == "histogram":
            names.update({name + suffix: name for suffix in HISTOGRAM_SUFFIXES})
        else:
            names[name] = name
    return names
