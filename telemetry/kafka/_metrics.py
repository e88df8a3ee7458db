"""Prometheus metrics of the Kafka stages (registry injected, one set per registry)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class KafkaMetrics:
    up: Gauge
    consumed: Counter
    produced: Counter
    delivery_failures: Counter
    assigned: Gauge
    paused: Gauge
    pauses: Counter
    commits: Counter
    commit_failures: Counter
    rebalances: Counter
    revoke_seconds: Histogram
    in_flight: Gauge
    abandoned: Counter
    processing_latency: Histogram
    end_to_end_latency: Histogram
    consumer_lag: Gauge
    topic_partitions: Gauge

    _by_registry: ClassVar[weakref.WeakKeyDictionary[CollectorRegistry, KafkaMetrics]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None) -> KafkaMetrics:
        """The metric set of ``registry`` (a private one when None), created once."""
        registry = registry if registry is not None else CollectorRegistry()
        existing = cls._by_registry.get(registry)
        if existing is not None:
            return existing
        stage = ["stage"]
        metrics = cls(
            up=Gauge(
                "telemetry_kafka_client_up",
                "1 while the stage's Kafka client is open",
                stage,
                registry=registry,
            ),
            consumed=Counter(
                "telemetry_kafka_consumed_messages",
                "Messages consumed from Kafka",
                stage,
                registry=registry,
            ),
            produced=Counter(
                "telemetry_kafka_produced_messages",
                "Messages delivered to Kafka (acknowledged)",
                stage,
                registry=registry,
            ),
            delivery_failures=Counter(
                "telemetry_kafka_delivery_failures",
                "Delivery reports with an error (each is retried, then escalated)",
                stage,
                registry=registry,
            ),
            assigned=Gauge(
                "telemetry_kafka_assigned_partitions",
                "Partitions assigned to this member",
                stage,
                registry=registry,
            ),
            paused=Gauge(
                "telemetry_kafka_paused_partitions",
                "Assigned partitions paused for want of downstream demand",
                stage,
                registry=registry,
            ),
            pauses=Counter(
                "telemetry_kafka_partition_pauses",
                "Times a partition was paused",
                stage,
                registry=registry,
            ),
            commits=Counter(
                "telemetry_kafka_commits", "Offset commits issued", stage, registry=registry
            ),
            commit_failures=Counter(
                "telemetry_kafka_commit_failures",
                "Offset commits that failed",
                stage,
                registry=registry,
            ),
            rebalances=Counter(
                "telemetry_kafka_rebalance_events",
                "Partition assignment changes seen by this member (event=assign|revoke|lost)",
                [*stage, "event"],
                registry=registry,
            ),
            revoke_seconds=Histogram(
                "telemetry_kafka_revoke_duration_seconds",
                "Time to finish or abandon revoked partitions' work and commit it",
                stage,
                registry=registry,
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            ),
            in_flight=Gauge(
                "telemetry_kafka_in_flight_messages",
                "Produced messages awaiting delivery reports",
                stage,
                registry=registry,
            ),
            abandoned=Counter(
                "telemetry_kafka_abandoned_outputs",
                "Outputs of revoked partitions not produced (the next owner replays them)",
                stage,
                registry=registry,
            ),
            processing_latency=Histogram(
                "telemetry_processing_latency_seconds",
                "From the start of processing an input batch to delivery of its rollup or alert",
                registry=registry,
                buckets=_LATENCY_BUCKETS,
            ),
            end_to_end_latency=Histogram(
                "telemetry_end_to_end_latency_seconds",
                "From the event time of the reading that triggered an alert to the alert's "
                "delivery",
                registry=registry,
                buckets=(*_LATENCY_BUCKETS, 30, 60, 120, 300, 600),
            ),
            consumer_lag=Gauge(
                "telemetry_kafka_consumer_lag_messages",
                "Messages between the consumer's position and the partition's end",
                ["topic", "partition"],
                registry=registry,
            ),
            topic_partitions=Gauge(
                "telemetry_kafka_topic_partitions",
                "Partitions of each consumed topic (a change moves keys between partitions)",
                ["topic"],
                registry=registry,
            ),
        )
        cls._by_registry[registry] = metrics
        return metrics

    def init_source(self, stage: str) -> None:
        """Export the source's series at zero from the start (dashboards and alerts need them
        before the first pause, commit failure or rebalance)."""
        for metric in (
            self.consumed,
            self.assigned,
            self.paused,
            self.pauses,
            self.commits,
            self.commit_failures,
            self.revoke_seconds,
        ):
            metric.labels(stage)
        for event in ("assign", "revoke", "lost"):
            self.rebalances.labels(stage, event)

    def init_sink(self, stage: str) -> None:
        """Export the sink's series at zero from the start."""
        for metric in (self.produced, self.delivery_failures, self.in_flight, self.abandoned):
            metric.labels(stage)
