"""The aggregation stage as the pipeline runs it: readings in, encoded rollups and alerts out.

It wraps :class:`~telemetry.aggregate.Aggregator` (one state per assigned Kafka partition, keyed
by that partition's offset tracker, so a re-assignment starts a fresh generation) and turns its
outputs into Kafka :class:`~telemetry.kafka.Output` records. Offsets stay honest throughout:

- a reading's hold is released once the aggregator has taken it; from then on an open window
  that contains it keeps the partition's commit floor (``PartitionOffsets.floor``) at or below
  it, and an emitted rollup or alert holds its offset until delivered;
- on revoke the partition's floor is pinned before its state is dropped, so the final commit
  never passes a window that was still open.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge

from telemetry.aggregate import ALERT, LATE, ROLLUP, Aggregator, Emitted, Event
from telemetry.codec import Encoder
from telemetry.decode import DecodeEvent
from telemetry.kafka import Output, PartitionOffsets
from telemetry.stages import Processor


class AggregateMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rollups = Counter(
            "telemetry_rollups", "Rollups emitted (windows closed)", ["window"], registry=registry
        )
        self.alerts = Counter(
            "telemetry_alerts", "Alert state changes emitted", ["rule", "state"], registry=registry
        )
        self.late = Counter(
            "telemetry_late_events", "Readings for windows already closed", registry=registry
        )
        self.event_time_lag = Gauge(
            "telemetry_event_time_lag_seconds",
            "Wall clock minus the partition's watermark",
            ["partition"],
            registry=registry,
        )


class Aggregate(Processor[DecodeEvent, Output]):
    """Windows and rules over decoded readings; dead letters pass through untouched."""

    def __init__(
        self,
        *,
        aggregator: Aggregator,
        encoder: Encoder,
        rollup_schema_id: int,
        alert_schema_id: int,
        reading_schema_id: int,
        rollups_topic: str,
        alerts_topic: str,
        late_topic: str | None,
        registry: CollectorRegistry,
        name: str = "aggregate",
        buffer_size: int = 10_000,
    ) -> None:
        super().__init__(name=name, buffer_size=buffer_size, tick_interval=aggregator.tick_interval)
        self.aggregator = aggregator
        self.encoder = encoder
        self._schema = {ROLLUP: rollup_schema_id, ALERT: alert_schema_id, LATE: reading_schema_id}
        self._topic = {ROLLUP: rollups_topic, ALERT: alerts_topic, LATE: late_topic}
        self.metrics = AggregateMetrics(registry)
        self._lag_labels: set[str] = set()

    # -- partitions (source listeners) --------------------------------------------------------

    def assigned(self, partitions: Sequence[PartitionOffsets]) -> None:
        aggregator = self.aggregator
        for tracker in partitions:
            aggregator.open_partition(tracker)
            tracker.floor = _floor(aggregator, tracker)

    def revoked(self, partitions: Sequence[PartitionOffsets], timeout: float) -> None:
        del timeout  # dropping state is immediate
        for tracker in partitions:
            floor = self.aggregator.min_open_offset(tracker)
            tracker.floor = None
            if floor is not None:
                tracker.hold(floor)  # pinned: this generation never commits past it
            self.aggregator.close_partition(tracker)
            label = str(tracker.partition)
            if label in self._lag_labels:
                self._lag_labels.discard(label)
                self.metrics.event_time_lag.remove(label)

    # -- stage callbacks ----------------------------------------------------------------------

    def process(self, events: list[DecodeEvent]) -> list[Output]:
        started = time.time()
        # Reading events are (offsets, offset, reading) tuples: the aggregator's own input.
        outputs: list[Output] = [e for e in events if type(e) is Output]  # dead letters
        mixed = events if not outputs else [e for e in events if type(e) is not Output]
        readings = cast(list[Event], mixed)
        if readings:
            emitted = self.aggregator.process(readings)
            if emitted:
                outputs.extend(self._encode(emitted, started))
            # The aggregator has them now: open windows keep the floor, outputs hold theirs.
            # (PartitionOffsets.release, inlined: once per reading.)
            last: object = None
            held: dict[int, int] = {}
            for tracker, offset, _ in readings:
                if tracker is not last:
                    last = tracker
                    held = cast(PartitionOffsets, tracker).held
                remaining = held.get(offset, 0) - 1
                if remaining > 0:
                    held[offset] = remaining
                elif remaining == 0:
                    del held[offset]
        return outputs

    def on_tick(self, now: float) -> list[Output]:
        aggregator = self.aggregator
        for tracker in aggregator.partitions:
            # Quiet is not idle: a partition with data still to fetch keeps its clock.
            if isinstance(tracker, PartitionOffsets) and not tracker.caught_up():
                aggregator.touch(tracker, now)
        emitted = aggregator.on_tick(now)
        wall = time.time()
        for tracker in self.aggregator.partitions:
            watermark = self.aggregator.watermark(tracker)
            if watermark is not None and isinstance(tracker, PartitionOffsets):
                label = str(tracker.partition)
                self._lag_labels.add(label)
                self.metrics.event_time_lag.labels(label).set(wall - watermark / 1000)
        return self._encode(emitted, wall) if emitted else []

    def tick_pending(self) -> bool:
        return self.aggregator.tick_pending()

    def _encode(self, emitted: list[Emitted], started: float) -> list[Output]:
        encode = self.encoder.encode
        schema, topic = self._schema, self._topic
        windows: Tally[str] = Tally()
        alerts: Tally[tuple[str, str]] = Tally()
        late = 0
        # Alerts first: a burst of closing windows must not delay the alerts of the same pass.
        urgent: list[Output] = []
        outputs: list[Output] = []
        for item in emitted:
            kind = item.kind
            record = item.record
            if kind == ROLLUP:
                windows[_window_label(record)] += 1
                # A rollup's end-to-end latency would mostly measure its window's length.
                event_time = 0.0
                queue = outputs
            elif kind == ALERT:
                alerts[record["rule"], record["state"]] += 1
                event_time = record["ts"] / 1000
                queue = urgent
            else:
                late += 1
                event_time = record["ts"] / 1000
                queue = outputs
            target = topic[kind]
            if target is None:  # late readings without a late topic: counted only
                continue
            tracker = item.partition if isinstance(item.partition, PartitionOffsets) else None
            offset = item.offset
            if tracker is not None and offset >= 0:
                tracker.hold(offset)
            else:
                tracker, offset = None, -1
            out = Output(
                target, encode(schema[kind], record), record["device_id"], None, tracker, offset
            )
            out.started = started
            out.event_time = event_time
            queue.append(out)
        # Metrics per batch, not per output: a label lookup costs more than the increment.
        for label, n in windows.items():
            self.metrics.rollups.labels(label).inc(n)
        for (rule, state), n in alerts.items():
            self.metrics.alerts.labels(rule, state).inc(n)
        if late:
            self.metrics.late.inc(late)
        if urgent:
            urgent.extend(outputs)
            return urgent
        return outputs


def _floor(aggregator: Aggregator, tracker: PartitionOffsets) -> Callable[[], int | None]:
    def floor() -> int | None:
        return aggregator.min_open_offset(tracker)

    return floor


def _window_label(rollup: Mapping[str, Any]) -> str:
    kind = str(rollup["window_kind"]).lower()
    # Session lengths vary per key: one label for all of them keeps the cardinality fixed.
    return kind if kind == "session" else f"{kind}-{rollup['window_size_ms']}ms"
