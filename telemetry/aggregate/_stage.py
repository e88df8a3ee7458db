"""The aggregation stage as the pipeline runs it: readings in, encoded rollups and alerts out.

It wraps :class:`~telemetry.aggregate.Aggregator` (one state per assigned Kafka partition, keyed
by that partition's offset tracker, so a re-assignment starts a fresh generation) and turns its
outputs into Kafka :class:`~telemetry.kafka.Output` records.

With a :class:`~telemetry.aggregate.Checkpointer` (the default, ``processing.changelog``) the
state is restored from the changelog on assign, every output carries its partition's current
epoch as its acknowledgement handle, and the committed offset is the one the last durable
checkpoint covers. Without one, offsets stay honest in memory only:

- a reading's hold is released once the aggregator has taken it; from then on an open window
  that contains it keeps the partition's commit floor (``PartitionOffsets.floor``) at or below
  it, and an emitted rollup or alert holds its offset until delivered;
- on revoke the partition's floor is pinned before its state is dropped, so the final commit
  never passes a window that was still open.

A failure inside the aggregation escalates (the process exits and its partitions are restored
elsewhere): a batch half applied to the state must never be fed again, and the state it left
is never checkpointed (:meth:`Checkpointer.fail`): the next owner restores the last whole
checkpoint and replays from its marker.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from prometheus_client import CollectorRegistry

from telemetry.aggregate._aggregator import Aggregator
from telemetry.aggregate._checkpoint import Checkpointer, Epoch
from telemetry.aggregate._events import ALERT, LATE, ROLLUP, Emitted, Event
from telemetry.aggregate._partition import PartitionState
from telemetry.codec import Encoder
from telemetry.decode import DecodeEvent
from telemetry.kafka import Output, PartitionOffsets
from telemetry.metrics import AggregateMetrics
from telemetry.stages import Dispatcher, Processor, Supervision
from telemetry.windows import rollup_label


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
        checkpointer: Checkpointer | None = None,
        name: str = "aggregate",
        buffer_size: int = 10_000,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        super().__init__(
            name=name,
            dispatcher=dispatcher,
            buffer_size=buffer_size,
            tick_interval=aggregator.tick_interval,
            supervision=Supervision(strategy="escalate"),
        )
        self.aggregator = aggregator
        self.checkpointer = checkpointer
        self.encoder = encoder
        self._schema = {ROLLUP: rollup_schema_id, ALERT: alert_schema_id, LATE: reading_schema_id}
        self._topic = {ROLLUP: rollups_topic, ALERT: alerts_topic, LATE: late_topic}
        self.metrics = AggregateMetrics(registry)
        self._lag_labels: set[str] = set()
        self._unassigned = 0  # the aggregator's unassigned_total already exported
        self._last_tick: float | None = None

    # -- partitions (source listeners) --------------------------------------------------------

    def assigned(self, partitions: Sequence[PartitionOffsets]) -> None:
        aggregator = self.aggregator
        for tracker in partitions:
            aggregator.open_partition(tracker)
        if self.checkpointer is not None:
            self.checkpointer.restore([(t, self._state(t)) for t in partitions])
        else:
            for tracker in partitions:
                tracker.floor = _floor(aggregator, tracker)

    def revoking(
        self, partitions: Sequence[PartitionOffsets], timeout: float, abandon: bool
    ) -> None:
        """First revoke listener: cut the partitions' last epoch before the sink flushes."""
        del timeout
        if self.checkpointer is not None and not abandon:
            self.checkpointer.cut(partitions)

    def revoked(
        self, partitions: Sequence[PartitionOffsets], timeout: float, abandon: bool
    ) -> None:
        """Last revoke listener (after the sink flushed): write what the delivered outputs
        allow, then drop the state. ``abandon`` (a lost partition): write nothing."""
        if self.checkpointer is not None:
            if abandon:
                self.checkpointer.drop(partitions)
            else:
                self.checkpointer.finish(partitions, timeout)
        for tracker in partitions:
            if self.checkpointer is None and not abandon:
                floor = self.aggregator.min_open_offset(tracker)
                tracker.floor = None
                if floor is not None:
                    tracker.hold(floor)  # pinned: this generation never commits past it
            self.aggregator.close_partition(tracker)
            label = str(tracker.partition)
            if label in self._lag_labels:
                self._lag_labels.discard(label)
                self.metrics.event_time_lag.remove(label)

    def _state(self, tracker: PartitionOffsets) -> PartitionState:
        state = self.aggregator.state(tracker)
        assert state is not None  # noqa: S101 - opened just before
        return state

    # -- stage callbacks ----------------------------------------------------------------------

    def process(self, events: list[DecodeEvent]) -> list[Output]:
        try:
            return self._process(events)
        except BaseException:
            self._failed()
            raise

    def on_tick(self, now: float) -> list[Output]:
        try:
            return self._on_tick(now)
        except BaseException:
            self._failed()
            raise

    def _failed(self) -> None:
        """Whatever raised, the state may hold part of a pass (and its outputs are lost): it
        must never be checkpointed; the supervisor escalates."""
        if self.checkpointer is not None:
            self.checkpointer.fail()

    def _process(self, events: list[DecodeEvent]) -> list[Output]:
        started = time.time()
        # Reading events are (offsets, offset, reading) tuples: the aggregator's own input.
        outputs: list[Output] = [e for e in events if type(e) is Output]  # dead letters
        if outputs and self.checkpointer is not None:
            self._pass_through(outputs)
        mixed = events if not outputs else [e for e in events if type(e) is not Output]
        readings = cast(list[Event], mixed)
        if readings:
            emitted = self.aggregator.process(readings)
            dropped = self.aggregator.unassigned_total - self._unassigned
            if dropped:  # in flight when their partition was revoked
                self._unassigned += dropped
                self.metrics.unassigned.inc(dropped)
            if emitted:
                outputs.extend(self._encode(emitted, started))
            # The aggregator has them now: the state (or, in memory, open windows and
            # outputs) holds what they became. Released a run of one partition at a time.
            start = 0
            n = len(readings)
            while start < n:
                tracker = cast(PartitionOffsets, readings[start][0])
                end = start + 1
                while end < n and readings[end][0] is tracker:
                    end += 1
                if not tracker.checkpointed:  # with a changelog nothing is held per reading
                    tracker.release_all([readings[i][1] for i in range(start, end)])
                start = end
        return outputs

    def _pass_through(self, dead_letters: list[Output]) -> None:
        """Dead letters are part of their partition's checkpoint: the state covers their offset
        once they are delivered."""
        checkpointer = self.checkpointer
        assert checkpointer is not None  # noqa: S101 - called only with one
        for out in dead_letters:
            source = out.source
            state = self.aggregator.state(source)
            epoch = checkpointer.ack(source)
            if state is None or epoch is None:
                continue
            out.ack = epoch
            epoch.pending += 1
            state.advance(out.offset)

    def _on_tick(self, now: float) -> list[Output]:
        aggregator = self.aggregator
        # A process that did not run (stopped, starved, a long pause) cannot tell quiet input
        # from input it never fetched: after such a gap no partition counts as idle. Else a
        # member frozen past its session would wake up, see every device silent and close its
        # windows early, for partitions another member already owns.
        interval = aggregator.tick_interval or 1.0
        stalled = self._last_tick is not None and now - self._last_tick > 2 * interval
        self._last_tick = now
        for tracker in aggregator.partitions:
            # Quiet is not idle: a partition with data still to fetch keeps its clock.
            if stalled or (isinstance(tracker, PartitionOffsets) and not tracker.caught_up()):
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

    def _encode(  # noqa: PLR0912, PLR0915 - once per output: inlined on purpose
        self, emitted: list[Emitted], started: float
    ) -> list[Output]:
        encode = self.encoder.encode
        schema, topic = self._schema, self._topic
        windows: Tally[str] = Tally()
        alerts: Tally[tuple[str, str]] = Tally()
        late = 0
        ack = self.checkpointer.ack if self.checkpointer is not None else None
        acked: object = None
        epoch: Epoch | None = None
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
            if ack is not None:
                if item.partition is not acked:
                    acked = item.partition
                    epoch = ack(acked)
                if epoch is not None:
                    out.ack = epoch
                    epoch.pending += 1
            out.started = started
            out.event_time = event_time
            out.emitted = item  # the value, for output sinks other than Kafka
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
    return rollup_label(rollup)  # the spec's kind decides (session sizes vary: one label)
