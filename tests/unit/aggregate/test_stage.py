"""The aggregation stage's bookkeeping around the aggregator: alerts ahead of rollups, what each
output holds until delivered (an offset in memory, its epoch with a changelog), and revoke."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry

from telemetry.aggregate import Aggregate, Aggregator, Checkpointer
from telemetry.codec import Encoder
from telemetry.codec._schemas import (
    ALERT_FILE,
    READING_V2_FILE,
    ROLLUP_FILE,
    SCHEMA_DIR,
    load_schema_file,
)
from telemetry.decode import DecodeEvent, ReadingEvent
from telemetry.kafka import Output, PartitionOffsets
from telemetry.kafka._changelog import Latest
from telemetry.rules import SilentRule, ThresholdRule
from telemetry.windows import Tumbling
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading
from tests.unit.aggregate.test_checkpoint import MemoryWriter

T0 = 1_700_000_040_000  # a multiple of one minute
LATER = time.monotonic() + 3_600.0  # a checkpoint poll at which every cut is due
ROLLUP_ID, ALERT_ID, READING_ID = 1, 2, 3
HOT = ThresholdRule(name="hot", sensor="s", raise_at=10.0, clear_at=5.0)
QUIET = SilentRule(name="quiet", sensor="s", after_ms=2_000)


def encoder() -> Encoder:
    return Encoder(
        {
            ROLLUP_ID: load_schema_file(SCHEMA_DIR / ROLLUP_FILE),
            ALERT_ID: load_schema_file(SCHEMA_DIR / ALERT_FILE),
            READING_ID: load_schema_file(SCHEMA_DIR / READING_V2_FILE),
        }
    )


def stage(
    registry: CollectorRegistry | None = None,
    checkpointer: Checkpointer | None = None,
    rule: ThresholdRule | SilentRule = HOT,
) -> Aggregate:
    return Aggregate(
        aggregator=Aggregator(
            windows=(Tumbling(1_000),), rules=(rule,), idle_timeout=5.0, clock=FakeClock()
        ),
        encoder=encoder(),
        rollup_schema_id=ROLLUP_ID,
        alert_schema_id=ALERT_ID,
        reading_schema_id=READING_ID,
        rollups_topic="rollups",
        alerts_topic="alerts",
        late_topic=None,
        registry=registry if registry is not None else CollectorRegistry(),
        checkpointer=checkpointer,
    )


def readings(
    tracker: PartitionOffsets, *points: tuple[int, int, float], device: str = "d"
) -> list[DecodeEvent]:
    """(offset, ms after T0, value) readings of ``device``, handed on by the source."""
    tracker.emit([offset for offset, _, _ in points])
    return [
        ReadingEvent(reading(device, "s", T0 + ts, value, offset), tracker, offset)
        for offset, ts, value in points
    ]


def assigned(aggregate: Aggregate, partition: int = 0) -> PartitionOffsets:
    tracker = PartitionOffsets("readings", partition)
    tracker.end_offset = 0  # caught up: the idle clock may run
    aggregate.assigned([tracker])
    return tracker


def deliver(outputs: Sequence[Output]) -> None:
    for out in outputs:
        out.ack.settle(out)


def checkpointer() -> tuple[Checkpointer, MemoryWriter]:
    writer = MemoryWriter()

    def read(partitions: Sequence[int]) -> Mapping[int, Latest]:
        return {p: {} for p in partitions}

    cp = Checkpointer(
        writer=writer,  # type: ignore[arg-type]
        read=read,
        interval=1.0,
        ttl_ms=None,
        registry=CollectorRegistry(),
    )
    cp.start()
    return cp, writer


def test_alerts_go_ahead_of_rollups_of_the_same_pass() -> None:
    """On a tick each partition closes its windows right after raising its alerts; the stage
    sends every partition's alerts first, each kind in the order it was emitted."""
    aggregate = stage(rule=QUIET)
    first, second = assigned(aggregate, 0), assigned(aggregate, 1)
    aggregate.process(
        readings(first, (0, 0, 1.0), device="a") + readings(second, (0, 0, 1.0), device="b")
    )
    outputs = aggregate.on_tick(10.0)  # both idle: silent, and their windows end
    assert [(o.topic, o.key) for o in outputs] == [
        ("alerts", "a"),
        ("alerts", "b"),
        ("rollups", "a"),
        ("rollups", "b"),
    ]


def test_in_memory_each_output_holds_its_offset_and_an_open_window_holds_the_floor() -> None:
    aggregate = stage()
    tracker = assigned(aggregate)
    # Reading 1 closes the window of reading 0 and raises "hot"; its own window stays open.
    alert, rollup = aggregate.process(readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0)))
    assert (alert.topic, alert.offset) == ("alerts", 1)
    assert (rollup.topic, rollup.offset) == ("rollups", 0)
    assert tracker.held == {0: 1, 1: 1}  # the readings' holds released, the outputs' taken
    assert tracker.committable() == 0
    deliver([rollup])
    assert tracker.committable() == 1
    deliver([alert])
    assert tracker.held == {}
    assert tracker.committable() == 1  # not 2: the open window still contains reading 1


def test_in_memory_a_dead_letter_passes_through_holding_its_own_offset() -> None:
    aggregate = stage()
    tracker = assigned(aggregate)
    tracker.emit([0])
    letter = Output("dlq", b"x", b"k", None, tracker, 0)
    assert aggregate.process([letter]) == [letter]
    assert tracker.held == {0: 1}  # the decode stage's hold, released on delivery
    deliver([letter])
    assert tracker.committable() == 1


def test_with_a_changelog_every_output_counts_in_its_partitions_epoch() -> None:
    cp, _ = checkpointer()
    aggregate = stage(checkpointer=cp)
    tracker = assigned(aggregate)
    events = readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0))
    letter = Output("dlq", b"x", b"k", None, tracker, 2)
    tracker.emit([2])
    outputs = aggregate.process([*events, letter])
    epoch = cp.ack(tracker)
    assert epoch is not None
    assert [o.topic for o in outputs] == ["dlq", "alerts", "rollups"]
    assert all(o.ack is epoch for o in outputs)
    assert epoch.pending == 3
    assert tracker.held == {}  # nothing held per offset: the checkpoint covers them
    state = aggregate.aggregator.state(tracker)
    assert state is not None
    assert state.position == 3  # the dead letter is part of the checkpoint
    deliver(outputs)
    assert epoch.pending == 0


def test_on_revoke_in_memory_the_open_windows_floor_is_pinned_before_the_state_goes() -> None:
    registry = CollectorRegistry()
    aggregate = stage(registry)
    tracker = assigned(aggregate)
    deliver(aggregate.process(readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0))))
    aggregate.on_tick(0.0)
    lag = ("telemetry_event_time_lag_seconds", {"partition": "0"})
    assert registry.get_sample_value(*lag) is not None
    aggregate.revoked([tracker], 1.0, abandon=False)
    assert aggregate.aggregator.state(tracker) is None
    assert tracker.floor is None
    assert tracker.committable() == 1  # the final commit replays the window still open
    assert registry.get_sample_value(*lag) is None  # no series left for a partition gone


def test_a_lost_partition_in_memory_pins_nothing() -> None:
    aggregate = stage()
    tracker = assigned(aggregate)
    deliver(aggregate.process(readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0))))
    aggregate.revoked([tracker], 1.0, abandon=True)
    assert aggregate.aggregator.state(tracker) is None
    assert tracker.held == {}  # no commit follows a loss


def test_on_revoke_with_a_changelog_the_last_epoch_is_cut_and_written_once_delivered() -> None:
    cp, writer = checkpointer()
    aggregate = stage(checkpointer=cp)
    tracker = assigned(aggregate)
    deliver(aggregate.process(readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0))))
    aggregate.revoking([tracker], 1.0, abandon=False)
    aggregate.revoked([tracker], 1.0, abandon=False)
    assert writer.markers() == [2]  # covers both readings
    assert tracker.durable == 2
    assert aggregate.aggregator.state(tracker) is None
    assert cp.ack(tracker) is None


def test_a_lost_partition_with_a_changelog_writes_nothing() -> None:
    cp, writer = checkpointer()
    aggregate = stage(checkpointer=cp)
    tracker = assigned(aggregate)
    deliver(aggregate.process(readings(tracker, (0, 0, 1.0), (1, 1_500, 20.0))))
    cp.poll(LATER)  # an epoch cut, its outputs delivered: written at a later turn
    assert writer.written == []
    aggregate.revoking([tracker], 1.0, abandon=True)
    aggregate.revoked([tracker], 1.0, abandon=True)
    assert writer.written == []  # not even that epoch: the partition is someone else's
    assert tracker.durable is None
    assert aggregate.aggregator.state(tracker) is None


def test_readings_of_a_partition_revoked_meanwhile_are_dropped_and_counted() -> None:
    registry = CollectorRegistry()
    aggregate = stage(registry)
    tracker = assigned(aggregate)
    in_flight = readings(tracker, (0, 0, 1.0), (1, 10, 1.0))
    tracker.revoked = True
    aggregate.revoked([tracker], 1.0, abandon=True)
    assert aggregate.process(in_flight) == []
    assert registry.get_sample_value("telemetry_unassigned_readings_total") == 2
    aggregate.process(readings(assigned(aggregate, 1), (0, 0, 1.0)))
    assert registry.get_sample_value("telemetry_unassigned_readings_total") == 2
