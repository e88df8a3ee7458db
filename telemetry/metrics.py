"""Every Prometheus metric the processor exports, defined in one place; the registry is injected.

Each metric is a :class:`MetricSpec` (name, help, labels) listed in :data:`INVENTORY`, the one
list the Grafana dashboard, the alert rules and ``tests/chart`` are held to. Names and labels are
what dashboards and alert rules query: change them only together with those.

The bundles (:class:`PipelineMetrics`, :class:`KafkaMetrics`, ...) create one concern's metrics
on the registry they are given. Build each bundle once per registry (prometheus_client refuses a
second metric of the same name) and hand it to every stage that shares it, e.g. one
:class:`KafkaMetrics` to the source and the sink of a pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

Kind = Literal["counter", "gauge", "histogram", "info"]

WORKER_LABEL: Final = "worker"
"""The label the pod adds to every series of a worker: the worker's index, ``"0"`` .. ``N-1``."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One exported metric. ``name`` is prometheus_client's (without ``_total``/``_info``)."""

    kind: Kind
    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def exported(self) -> str:
        """The name a scrape shows: counters end in ``_total``, info metrics in ``_info``."""
        if self.kind == "counter":
            return f"{self.name}_total"
        if self.kind == "info":
            return f"{self.name}_info"
        return self.name


def _spec(
    kind: Kind, name: str, documentation: str, *labels: str, buckets: Sequence[float] = ()
) -> MetricSpec:
    return MetricSpec(kind, name, documentation, labels, tuple(buckets))


# -- the engine (telemetry.stages) ------------------------------------------------------------

STAGE_EVENTS_IN = _spec(
    "counter", "telemetry_stage_events_in", "Events a stage consumed from its inbox.", "stage"
)
STAGE_EVENTS_OUT = _spec(
    "counter",
    "telemetry_stage_events_out",
    "Events a stage emitted into its output buffer.",
    "stage",
)
STAGE_BUFFERED = _spec(
    "gauge",
    "telemetry_stage_buffered_events",
    "Events held by a stage: inbox plus output buffer.",
    "stage",
)
STAGE_DEMAND = _spec(
    "gauge",
    "telemetry_stage_demand_events",
    "Outstanding demand a stage has asked of its producers.",
    "stage",
)
STAGE_FAILURES = _spec(
    "counter",
    "telemetry_stage_failures",
    "Stage callback failures, by the supervision action taken.",
    "stage",
    "action",
)

# -- the Kafka clients (telemetry.kafka) ------------------------------------------------------

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

KAFKA_CLIENT_UP = _spec(
    "gauge", "telemetry_kafka_client_up", "1 while the stage's Kafka client is open", "stage"
)
KAFKA_CONSUMED = _spec(
    "counter", "telemetry_kafka_consumed_messages", "Messages consumed from Kafka", "stage"
)
KAFKA_PRODUCED = _spec(
    "counter",
    "telemetry_kafka_produced_messages",
    "Messages delivered to Kafka (acknowledged)",
    "stage",
)
KAFKA_DELIVERY_FAILURES = _spec(
    "counter",
    "telemetry_kafka_delivery_failures",
    "Delivery reports with an error (each is retried, then escalated)",
    "stage",
)
KAFKA_ASSIGNED = _spec(
    "gauge", "telemetry_kafka_assigned_partitions", "Partitions assigned to this member", "stage"
)
KAFKA_PAUSED = _spec(
    "gauge",
    "telemetry_kafka_paused_partitions",
    "Assigned partitions paused for want of downstream demand",
    "stage",
)
KAFKA_PAUSES = _spec(
    "counter", "telemetry_kafka_partition_pauses", "Times a partition was paused", "stage"
)
KAFKA_COMMITS = _spec("counter", "telemetry_kafka_commits", "Offset commits issued", "stage")
KAFKA_COMMIT_FAILURES = _spec(
    "counter", "telemetry_kafka_commit_failures", "Offset commits that failed", "stage"
)
KAFKA_REBALANCES = _spec(
    "counter",
    "telemetry_kafka_rebalance_events",
    "Partition assignment changes seen by this member (event=assign|revoke|lost)",
    "stage",
    "event",
)
KAFKA_REVOKE_SECONDS = _spec(
    "histogram",
    "telemetry_kafka_revoke_duration_seconds",
    "Time to finish or abandon revoked partitions' work and commit it",
    "stage",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
KAFKA_IN_FLIGHT = _spec(
    "gauge",
    "telemetry_kafka_in_flight_messages",
    "Produced messages awaiting delivery reports",
    "stage",
)
KAFKA_ABANDONED = _spec(
    "counter",
    "telemetry_kafka_abandoned_outputs",
    "Outputs of revoked partitions not produced (the next owner replays them)",
    "stage",
)
PROCESSING_LATENCY = _spec(
    "histogram",
    "telemetry_processing_latency_seconds",
    "From the start of processing an input batch to delivery of its rollup or alert",
    buckets=_LATENCY_BUCKETS,
)
END_TO_END_LATENCY = _spec(
    "histogram",
    "telemetry_end_to_end_latency_seconds",
    "From the event time of the reading that triggered an alert to the alert's delivery",
    buckets=(*_LATENCY_BUCKETS, 30, 60, 120, 300, 600),
)
KAFKA_CONSUMER_LAG = _spec(
    "gauge",
    "telemetry_kafka_consumer_lag_messages",
    "Messages between the consumer's position and the partition's end",
    "topic",
    "partition",
)
KAFKA_TOPIC_PARTITIONS = _spec(
    "gauge",
    "telemetry_kafka_topic_partitions",
    "Partitions of each consumed topic (a change moves keys between partitions)",
    "topic",
)

# -- exactly-once mode ------------------------------------------------------------------------

TRANSACTIONS = _spec(
    "counter",
    "telemetry_transactions",
    "Exactly-once transactions by result (committed, aborted)",
    "result",
)
TRANSACTION_COMMIT_SECONDS = _spec(
    "histogram",
    "telemetry_transaction_commit_seconds",
    "Time to send the offsets and commit one transaction",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TRANSACTION_STUCK = _spec(
    "counter",
    "telemetry_transaction_stuck",
    "Transactional calls given up because librdkafka did not return (the member rejoined)",
)

# -- decode, aggregate and the processor ------------------------------------------------------

DEADLETTER_RECORDS = _spec(
    "counter",
    "telemetry_deadletter_records",
    "Records sent to the dead-letter topic, by reason.",
    "reason",
)
KEY_MISMATCH_READINGS = _spec(
    "counter",
    "telemetry_key_mismatch_readings",
    "Readings whose Kafka key is not their device id (or is null), by what was done",
    "action",
)
BUILD = _spec("info", "telemetry_build", "Version of the running processor", "version", "python")
ROLLUPS = _spec("counter", "telemetry_rollups", "Rollups emitted (windows closed)", "window")
ALERTS = _spec("counter", "telemetry_alerts", "Alert state changes emitted", "rule", "state")
LATE_EVENTS = _spec("counter", "telemetry_late_events", "Readings for windows already closed")
UNASSIGNED_READINGS = _spec(
    "counter",
    "telemetry_unassigned_readings",
    "Readings of partitions no longer assigned, dropped by the aggregation "
    "(in flight at a revoke: the next owner replays them)",
)
EVENT_TIME_LAG = _spec(
    "gauge",
    "telemetry_event_time_lag_seconds",
    "Wall clock minus the partition's watermark",
    "partition",
)

# -- durable state (the changelog) ------------------------------------------------------------

STATE_RESTORE_SECONDS = _spec(
    "histogram",
    "telemetry_state_restore_seconds",
    "Time to restore assigned partitions from the changelog",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STATE_RESTORED_KEYS = _spec(
    "counter", "telemetry_state_restored_keys", "Keys restored from the changelog"
)
STATE_CHANGELOG_RECORDS = _spec(
    "counter",
    "telemetry_state_changelog_records",
    "Changelog records written (key states, tombstones, markers)",
)
STATE_CHANGELOG_BYTES = _spec(
    "counter", "telemetry_state_changelog_bytes", "Changelog bytes written"
)
STATE_EVICTED_KEYS = _spec(
    "counter",
    "telemetry_state_evicted_keys",
    "Keys evicted after processing.state_ttl_ms without a reading",
)
STATE_KEYS = _spec(
    "gauge",
    "telemetry_state_keys",
    "(device, sensor) keys held in the state of the assigned partitions",
)
STATE_CHECKPOINTS = _spec(
    "counter",
    "telemetry_state_checkpoints",
    "Partition checkpoints made durable in the changelog",
)

# -- a pod of several workers (telemetry run --workers N > 1) ---------------------------------

WORKER_UP = _spec(
    "gauge",
    "telemetry_worker_up",
    "1 when the worker process serves its metrics (this scrape read them), else 0",
    WORKER_LABEL,
)
"""Not a registered gauge: the pod's collector builds it on every scrape."""
WORKER_RESTARTS = _spec(
    "counter",
    "telemetry_worker_restarts",
    "Worker processes the pod started again after one died",
    WORKER_LABEL,
)

# -- output sinks (telemetry.sinks) -----------------------------------------------------------

WEBHOOK_SENT = _spec(
    "counter", "telemetry_webhook_sent", "Outputs a webhook sink delivered (2xx answers)", "sink"
)
WEBHOOK_RETRIES = _spec(
    "counter",
    "telemetry_webhook_retries",
    "Webhook requests that failed and were retried (timeouts, refused, 408/429/5xx)",
    "sink",
)
WEBHOOK_FAILURES = _spec(
    "counter",
    "telemetry_webhook_failures",
    "Outputs a webhook sink gave up on (retries exhausted or rejected): the processor stops",
    "sink",
)
WEBHOOK_QUEUED = _spec(
    "gauge",
    "telemetry_webhook_queued_outputs",
    "Outputs waiting in a webhook sink's queue or in flight (at most its queue_size)",
    "sink",
)

INVENTORY: Final[tuple[MetricSpec, ...]] = tuple(
    spec for spec in globals().values() if isinstance(spec, MetricSpec)
)
"""Every metric the processor (or its pod) exports."""


# -- building them ----------------------------------------------------------------------------


def counter(spec: MetricSpec, registry: CollectorRegistry) -> Counter:
    assert spec.kind == "counter", spec  # noqa: S101 - a wrong spec is a typo in this module
    return Counter(spec.name, spec.documentation, spec.labels, registry=registry)


def gauge(spec: MetricSpec, registry: CollectorRegistry) -> Gauge:
    assert spec.kind == "gauge", spec  # noqa: S101
    return Gauge(spec.name, spec.documentation, spec.labels, registry=registry)


def histogram(spec: MetricSpec, registry: CollectorRegistry) -> Histogram:
    assert spec.kind == "histogram", spec  # noqa: S101
    if spec.buckets:
        return Histogram(
            spec.name, spec.documentation, spec.labels, registry=registry, buckets=spec.buckets
        )
    return Histogram(spec.name, spec.documentation, spec.labels, registry=registry)


def info(spec: MetricSpec, registry: CollectorRegistry) -> Info:
    assert spec.kind == "info", spec  # noqa: S101
    # An info metric's labels are the keys of the mapping given to ``.info()``.
    return Info(spec.name, spec.documentation, registry=registry)


# -- the bundles ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageMetrics:
    """Label-bound children for one stage, resolved once so the hot path skips label lookup."""

    events_in: Counter
    events_out: Counter
    buffered: Gauge
    demand: Gauge
    restarted: Counter
    escalated: Counter


class PipelineMetrics:
    """The engine's metrics, one set per pipeline."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._in = counter(STAGE_EVENTS_IN, registry)
        self._out = counter(STAGE_EVENTS_OUT, registry)
        self._buffered = gauge(STAGE_BUFFERED, registry)
        self._demand = gauge(STAGE_DEMAND, registry)
        self._failures = counter(STAGE_FAILURES, registry)

    def for_stage(self, name: str) -> StageMetrics:
        return StageMetrics(
            events_in=self._in.labels(name),
            events_out=self._out.labels(name),
            buffered=self._buffered.labels(name),
            demand=self._demand.labels(name),
            restarted=self._failures.labels(name, "restarted"),
            escalated=self._failures.labels(name, "escalated"),
        )


class KafkaMetrics:
    """The Kafka stages' metrics (``stage`` label): one set shared by a pipeline's source and
    sink."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = gauge(KAFKA_CLIENT_UP, registry)
        self.consumed = counter(KAFKA_CONSUMED, registry)
        self.produced = counter(KAFKA_PRODUCED, registry)
        self.delivery_failures = counter(KAFKA_DELIVERY_FAILURES, registry)
        self.assigned = gauge(KAFKA_ASSIGNED, registry)
        self.paused = gauge(KAFKA_PAUSED, registry)
        self.pauses = counter(KAFKA_PAUSES, registry)
        self.commits = counter(KAFKA_COMMITS, registry)
        self.commit_failures = counter(KAFKA_COMMIT_FAILURES, registry)
        self.rebalances = counter(KAFKA_REBALANCES, registry)
        self.revoke_seconds = histogram(KAFKA_REVOKE_SECONDS, registry)
        self.in_flight = gauge(KAFKA_IN_FLIGHT, registry)
        self.abandoned = counter(KAFKA_ABANDONED, registry)
        self.processing_latency = histogram(PROCESSING_LATENCY, registry)
        self.end_to_end_latency = histogram(END_TO_END_LATENCY, registry)
        self.consumer_lag = gauge(KAFKA_CONSUMER_LAG, registry)
        self.topic_partitions = gauge(KAFKA_TOPIC_PARTITIONS, registry)

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


class TransactionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transactions = counter(TRANSACTIONS, registry)
        self.commit_seconds = histogram(TRANSACTION_COMMIT_SECONDS, registry)
        self.stuck = counter(TRANSACTION_STUCK, registry)
        for result in ("committed", "aborted"):
            self.transactions.labels(result)


class AggregateMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rollups = counter(ROLLUPS, registry)
        self.alerts = counter(ALERTS, registry)
        self.late = counter(LATE_EVENTS, registry)
        self.unassigned = counter(UNASSIGNED_READINGS, registry)
        self.event_time_lag = gauge(EVENT_TIME_LAG, registry)


class StateMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.restore_seconds = histogram(STATE_RESTORE_SECONDS, registry)
        self.restored_keys = counter(STATE_RESTORED_KEYS, registry)
        self.records = counter(STATE_CHANGELOG_RECORDS, registry)
        self.bytes = counter(STATE_CHANGELOG_BYTES, registry)
        self.evicted = counter(STATE_EVICTED_KEYS, registry)
        self.keys = gauge(STATE_KEYS, registry)
        self.checkpoints = counter(STATE_CHECKPOINTS, registry)


class PodMetrics:
    """The pod's own metrics (the workers' come from their endpoints)."""

    def __init__(self, registry: CollectorRegistry, workers: int) -> None:
        self.restarts = counter(WORKER_RESTARTS, registry)
        for index in range(workers):  # every worker's series exists from the start, at 0
            self.restarts.labels(str(index))


class WebhookSinkMetrics:
    """One webhook sink's series (its ``sink`` label)."""

    def __init__(self, bundle: WebhookMetrics, sink: str) -> None:
        self.sent = bundle.sent.labels(sink)
        self.retries = bundle.retries.labels(sink)
        self.failures = bundle.failures.labels(sink)
        self.queued = bundle.queued.labels(sink)


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = counter(WEBHOOK_SENT, registry)
        self.retries = counter(WEBHOOK_RETRIES, registry)
        self.failures = counter(WEBHOOK_FAILURES, registry)
        self.queued = gauge(WEBHOOK_QUEUED, registry)

    def for_sink(self, sink: str) -> WebhookSinkMetrics:
        return WebhookSinkMetrics(self, sink)
