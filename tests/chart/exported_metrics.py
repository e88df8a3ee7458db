"""The metrics the processor exports: the one list the dashboard and the alert rules are held to.

Kept by hand from the metrics issue; a later check replaces it with the names found in a live
``/metrics`` exposition of a real processor run. Labels are the metric's own; Prometheus adds the
target labels (:data:`TARGET_LABELS`) when it scrapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

Kind = Literal["counter", "gauge", "histogram", "info"]


class MetricSpec(NamedTuple):
    kind: Kind
    labels: frozenset[str]


def _spec(kind: Kind, *labels: str) -> MetricSpec:
    return MetricSpec(kind, frozenset(labels))


EXPORTED_METRICS: Final[Mapping[str, MetricSpec]] = MappingProxyType(
    {
        # stages (the engine)
        "telemetry_stage_events_in_total": _spec("counter", "stage"),
        "telemetry_stage_events_out_total": _spec("counter", "stage"),
        "telemetry_stage_buffered_events": _spec("gauge", "stage"),
        "telemetry_stage_demand_events": _spec("gauge", "stage"),
        "telemetry_stage_failures_total": _spec("counter", "stage", "action"),
        # Kafka clients
        "telemetry_kafka_client_up": _spec("gauge", "stage"),
        "telemetry_kafka_consumed_messages_total": _spec("counter", "stage"),
        "telemetry_kafka_produced_messages_total": _spec("counter", "stage"),
        "telemetry_kafka_delivery_failures_total": _spec("counter", "stage"),
        "telemetry_kafka_assigned_partitions": _spec("gauge", "stage"),
        "telemetry_kafka_paused_partitions": _spec("gauge", "stage"),
        "telemetry_kafka_partition_pauses_total": _spec("counter", "stage"),
        "telemetry_kafka_commits_total": _spec("counter", "stage"),
        "telemetry_kafka_commit_failures_total": _spec("counter", "stage"),
        "telemetry_kafka_rebalance_events_total": _spec("counter", "stage", "event"),
        "telemetry_kafka_revoke_duration_seconds": _spec("histogram", "stage"),
        "telemetry_kafka_in_flight_messages": _spec("gauge", "stage"),
        "telemetry_kafka_abandoned_outputs_total": _spec("counter", "stage"),
        "telemetry_kafka_consumer_lag_messages": _spec("gauge", "topic", "partition"),
        "telemetry_kafka_topic_partitions": _spec("gauge", "topic"),
        # exactly-once mode
        "telemetry_transactions_total": _spec("counter", "result"),
        "telemetry_transaction_commit_seconds": _spec("histogram"),
        "telemetry_transaction_stuck_total": _spec("counter"),
        # decode, aggregate and outputs
        "telemetry_deadletter_records_total": _spec("counter", "reason"),
        "telemetry_key_mismatch_readings_total": _spec("counter", "action"),
        "telemetry_build_info": _spec("info", "version"),
        "telemetry_processing_latency_seconds": _spec("histogram"),
        "telemetry_end_to_end_latency_seconds": _spec("histogram"),
        "telemetry_event_time_lag_seconds": _spec("gauge", "partition"),
        "telemetry_rollups_total": _spec("counter", "window"),
        "telemetry_alerts_total": _spec("counter", "rule", "state"),
        "telemetry_late_events_total": _spec("counter"),
        # durable state (the changelog)
        "telemetry_state_restore_seconds": _spec("histogram"),
        "telemetry_state_restored_keys_total": _spec("counter"),
        "telemetry_state_changelog_records_total": _spec("counter"),
        "telemetry_state_changelog_bytes_total": _spec("counter"),
        "telemetry_state_evicted_keys_total": _spec("counter"),
        "telemetry_state_checkpoints_total": _spec("counter"),
        "telemetry_state_keys": _spec("gauge"),
        # a pod of several workers (telemetry run --workers N > 1)
        "telemetry_worker_up": _spec("gauge", "worker"),
        "telemetry_worker_restarts_total": _spec("counter", "worker"),
    }
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
