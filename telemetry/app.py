"""The processor: the whole pipeline built from a :class:`~telemetry.config.Config`.

    source (Kafka) -> decode (Avro; dead letters) -> aggregate (windows, rules) -> sink (Kafka)

This is the same public API the CLI uses. A custom stage goes between decode and aggregate
(``App(config, stages=[...])``): it receives decoded readings (and dead letters, which it must
pass on) and returns what the aggregation should see (see README, "Python API"). Output sinks
besides Kafka (``App(config, sinks=[...])``, :class:`~telemetry.sinks.OutputSink`) receive every
rollup and alert too; an output counts as delivered once every sink acked it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from prometheus_client import CollectorRegistry

from telemetry._version import __version__
from telemetry.aggregate import Aggregate, Aggregator, Checkpointer, TransactionalCheckpointer
from telemetry.codec import (
    SCHEMA_DIR,
    LocalSchemaSource,
    ReadingDecoder,
    RegistrySchemaSource,
    SchemaSource,
    output_encoder,
    register_readings,
)
from telemetry.config import RESERVED_STAGE_NAMES, Config, ProcessingConfig
from telemetry.decode import Decode, DecodeEvent
from telemetry.errors import ConfigError, RejoinError, StageError
from telemetry.kafka import (
    ChangelogWriter,
    KafkaSink,
    KafkaSource,
    Transactions,
    read_changelog,
    transactional_id,
)
from telemetry.metrics import BUILD, KafkaMetrics, info
from telemetry.sinks import Broadcast, OutputSink, SinkContext, SinkStage
from telemetry.stages import Pipeline, Processor, StopBudget

logger = logging.getLogger("telemetry.app")

ALIVE_WITHIN_S = 10.0
RESTORE_TIMEOUT_S = 300.0
"""Longest a restore of assigned partitions may take before the member gives up (StateError):
about the default ``max.poll.interval.ms``, past which the group would expel it anyway."""

FINAL_FLUSH_S = 10.0
"""After the drain and the revoke: longest wait for the last changelog records. Like every
step of the stop it is cut short by the stop budget (:class:`telemetry.stages.StopBudget`)."""


GC_YOUNG_THRESHOLD = 50_000
"""Net allocations between young-generation collections while the processor runs (Python's
default is 700). Every batch briefly holds thousands of records, so the default threshold ran
thousands of collections over the live window state: about a fifth of W1's time (bench/)."""


@contextlib.contextmanager
def tuned_gc(young: int = GC_YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the young-generation threshold for the duration; cycles are still collected."""
    previous = gc.get_threshold()
    gc.set_threshold(max(young, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def schema_source(config: Config) -> SchemaSource:
    if config.schemas.registry_url:
        return RegistrySchemaSource(SchemaRegistryClient(config.schemas.registry_client_config()))
    directory = Path(config.schemas.directory) if config.schemas.directory else SCHEMA_DIR
    return LocalSchemaSource(directory)


def _membership(processing: ProcessingConfig) -> dict[str, Any]:
    """The consumer's group settings."""
    membership: dict[str, Any] = {
        "group.id": processing.group_id,
        "session.timeout.ms": processing.session_timeout_ms,
    }
    if processing.instance_id:
        membership["group.instance.id"] = processing.instance_id
    if processing.guarantee == "exactly_once":
        # Read what was committed only: readings re-keyed by another member are outputs.
        membership["isolation.level"] = "read_committed"
    return membership


def _all_sinks(
    config: Config, given: Sequence[OutputSink], context: SinkContext
) -> list[OutputSink]:
    """The configured sinks (YAML ``sinks:``), then those given to :class:`App`."""
    sinks = [*(spec.build(context) for spec in config.sinks), *given]
    names = [sink.name for sink in sinks]
    for index, name in enumerate(names):
        if name in names[:index] or name in RESERVED_STAGE_NAMES:
            raise ConfigError(
                f"output sink name {name!r} is taken (by another sink or a built-in stage); "
                "give each sink its own name"
            )
    return sinks


class App:
    """A running processor: one member of the consumer group ``processing.group_id``."""

    def __init__(
        self,
        config: Config,
        *,
        registry: CollectorRegistry | None = None,
        stages: Sequence[Processor[DecodeEvent, DecodeEvent]] = (),
        sinks: Sequence[OutputSink] = (),
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        info(BUILD, self.registry).info(
            {"version": __version__, "python": platform.python_version()}
        )
        kafka_metrics = KafkaMetrics(self.registry)  # the source's and the sink's
        sinks = _all_sinks(config, sinks, SinkContext(self.registry))
        processing, topics = config.processing, config.topics
        schemas = schema_source(config)
        encoder, ids = output_encoder(
            schemas, rollups_topic=topics.rollups, alerts_topic=topics.alerts
        )
        late_schema_id = register_readings(encoder, schemas, topics.late or topics.readings)
        client = config.kafka.client_config()
        membership = _membership(processing)
        exactly_once = processing.guarantee == "exactly_once"
        # Exactly-once: one transactional producer for outputs and changelog (see README).
        self.transactions = (
            Transactions(
                client,
                transactional_id(processing.group_id, processing.instance_id),
                timeout_ms=processing.transaction_timeout_ms,
                registry=self.registry,
            )
            if exactly_once
            else None
        )
        # One budget for the whole stop: revoke flushes, final commit, leave, last writes.
        self.stop_budget = StopBudget()
        self.source = KafkaSource(
            name="source",
            config={**client, **membership},
            topics=[topics.readings],
            prefetch=processing.prefetch,
            commit_interval=processing.commit_interval_s,
            metrics=kafka_metrics,
            stop_budget=self.stop_budget,
            commits=not exactly_once,
        )
        writer = (
            ChangelogWriter(
                client,
                config.changelog_topic,
                readings_topic=topics.readings,
                replication_factor=topics.replication_factor,
                transactions=self.transactions,
            )
            if processing.changelog
            else None
        )
        read = functools.partial(
            read_changelog, client, config.changelog_topic, timeout=RESTORE_TIMEOUT_S
        )
        self.checkpointer: Checkpointer | None = None
        if writer is not None:
            common: dict[str, Any] = {
                "writer": writer,
                "read": read,
                "interval": processing.commit_interval_s,
                "ttl_ms": processing.state_ttl_ms,
                "registry": self.registry,
            }
            if self.transactions is None:
                self.checkpointer = Checkpointer(**common)
            else:
                self.checkpointer = TransactionalCheckpointer(
                    **common,
                    transactions=self.transactions,
                    readings_topic=topics.readings,
                    quiet=self._quiet,
                    group_metadata=self.source.group_metadata,
                )
                self.source.consume_when = self._quiet
        self.decode = Decode(
            name="decode",
            decoder=ReadingDecoder(
                schemas,
                max_future=timedelta(milliseconds=processing.max_future_ms),
                max_past=timedelta(milliseconds=processing.max_past_ms),
            ),
            dead_letter_topic=topics.deadletter,
            registry=self.registry,
            key_mismatch=processing.key_mismatch,
        )
        self.aggregate = Aggregate(
            aggregator=Aggregator(
                windows=processing.windows,
                rules=processing.rules,
                allowed_lateness_ms=processing.allowed_lateness_ms,
                idle_timeout=processing.idle_timeout_ms / 1000,
                max_clock_ahead_ms=processing.max_clock_ahead_ms,
            ),
            encoder=encoder,
            rollup_schema_id=ids.rollup,
            alert_schema_id=ids.alert,
            reading_schema_id=late_schema_id,
            rollups_topic=topics.rollups,
            alerts_topic=topics.alerts,
            late_topic=topics.late,
            registry=self.registry,
            checkpointer=self.checkpointer,
            # Every sink sees every output (the default dispatcher would split them).
            dispatcher=Broadcast() if sinks else None,
        )
        self.sink = KafkaSink(
            name="sink",
            config=client,
            window=processing.sink_window,
            rate_limit=processing.sink_rate_limit,
            metrics=kafka_metrics,
            stop_budget=self.stop_budget,
            transactions=self.transactions,
        )
        # Revoke order matters: cut the last epoch, deliver what is in flight, write the
        # checkpoints that allows (or pin the windows' floor), drop the state; then the source
        # commits.
        self.source.assign_listeners.append(self.aggregate.assigned)
        self.source.revoke_listeners.append(self.aggregate.revoking)
        self.source.revoke_listeners.append(self.sink.finish)
        self.sinks = [SinkStage(sink, stop_budget=self.stop_budget) for sink in sinks]
        for sink_stage in self.sinks:  # their acks too, before the checkpoints are written
            self.source.revoke_listeners.append(sink_stage.finish)
        self.source.revoke_listeners.append(self.aggregate.revoked)
        self.pipeline = Pipeline(registry=self.registry)
        demand = processing.max_demand
        self.pipeline.subscribe(self.decode, self.source, max_demand=demand, min_demand=demand // 2)
        upstream: Processor[Any, DecodeEvent] = self.decode
        for stage in stages:  # user stages, in order, between decode and aggregate
            self.pipeline.subscribe(stage, upstream, max_demand=demand, min_demand=demand // 2)
            upstream = stage
        self.pipeline.subscribe(self.aggregate, upstream, max_demand=demand, min_demand=demand // 2)
        self.pipeline.subscribe(
            self.sink, self.aggregate, max_demand=self.sink.window, min_demand=0, manual=True
        )
        for sink_stage in self.sinks:
            self.pipeline.subscribe(
                sink_stage,
                self.aggregate,
                max_demand=sink_stage.sink.capacity,
                min_demand=0,
                manual=True,
            )
        self._last_pass = 0.0
        self._running = False
        self._until: Callable[[], bool] | None = None

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Process until :meth:`request_drain` (or :meth:`request_stop`), or until ``until()``
        holds (asked between passes); then drain and commit."""
        self._until = until
        self._running = True
        self._last_pass = time.monotonic()
        try:
            if self.checkpointer is not None:
                self.checkpointer.start()
            with tuned_gc():
                self.pipeline.run(until=self._beat)
        except RejoinError:
            self.pipeline.stop()  # leaves the group; nothing more is committed
            raise
        except StageError as exc:
            if isinstance(exc.__cause__, RejoinError):
                raise exc.__cause__ from None
            raise
        finally:
            self._running = False
            if self.checkpointer is not None:
                self.checkpointer.stop(self.stop_budget.remaining(FINAL_FLUSH_S))
            if self.transactions is not None:
                self.transactions.stop()  # aborts whatever was not committed
        logger.info("processor stopped")

    def _quiet(self) -> bool:
        """Every output of the input applied so far is handed to the producer, and acked by
        every other sink (those are not transactional: they deliver before the commit)."""
        return (
            self.pipeline.is_quiet()
            and self.sink.backlog() == 0
            and not any(sink_stage.in_flight() for sink_stage in self.sinks)
        )

    def _beat(self) -> bool:
        # Between passes: no batch is half applied, so the state may be cut here.
        now = time.monotonic()
        self._last_pass = now
        if self.checkpointer is not None:
            self.checkpointer.poll(now)
        if self._until is not None and self._until():
            self._until = None
            self.request_drain()
        return False

    def request_drain(self) -> None:
        """Finish in-flight work, commit and stop (safe in a signal handler)."""
        self.pipeline.request_drain(self.config.processing.drain_timeout_s)

    def request_stop(self) -> None:
        self.pipeline.request_stop()

    def alive(self) -> bool:
        """The loop made a pass recently."""
        return self._running and time.monotonic() - self._last_pass < ALIVE_WITHIN_S

    def ready(self) -> bool:
        """Joined the group and consuming its assignment."""
        return self.alive() and self.source.consumer is not None and self.source.joined

    def snapshot(self) -> dict[str, float]:
        """Totals for a live summary."""

        def total(name: str, labels: dict[str, str] | None = None) -> float:
            return self.registry.get_sample_value(name, labels or {}) or 0.0

        def family(name: str) -> float:
            return sum(
                sample.value
                for metric in self.registry.collect()
                for sample in metric.samples
                if sample.name == name
            )

        return {
            "consumed": total("telemetry_kafka_consumed_messages_total", {"stage": "source"}),
            "produced": total("telemetry_kafka_produced_messages_total", {"stage": "sink"}),
            "rollups": family("telemetry_rollups_total"),
            "alerts": family("telemetry_alerts_total"),
            "deadletters": family("telemetry_deadletter_records_total"),
            "late": total("telemetry_late_events_total"),
            "paused_partitions": total("telemetry_kafka_paused_partitions", {"stage": "source"}),
            "assigned_partitions": total(
                "telemetry_kafka_assigned_partitions", {"stage": "source"}
            ),
        }
