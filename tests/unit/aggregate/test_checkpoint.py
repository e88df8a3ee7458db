"""The checkpoint cycle's bookkeeping: an epoch is written only once its outputs are delivered,
in order; a failed pass is never checkpointed; a lost partition writes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from telemetry.aggregate import ROLLUP, Aggregator, Checkpointer, Event
from telemetry.aggregate._partition import SAVE_COST
from telemetry.aggregate._snapshot import MARKER_KEY, decode, delta
from telemetry.kafka import PartitionOffsets
from telemetry.kafka._changelog import ChangelogRecord, Latest
from telemetry.rules import Rule, SilentRule
from telemetry.windows import Session, Tumbling, WindowSpec
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading

T0 = 1_700_000_040_000
LATER = time.monotonic() + 3_600.0  # poll times: every cut is due (interval 1 s)


class MemoryWriter:
    """The changelog writer's interface, delivering at once into a list."""

    topic = "changelog"

    def __init__(self) -> None:
        self.written: list[tuple[int, list[ChangelogRecord]]] = []
        self.records_total = 0
        self.bytes_total = 0

    def start(self) -> None:
        pass

    def stop(self, timeout: float) -> None:
        del timeout

    def cover(self, partitions: Sequence[int]) -> None:
        del partitions

    def write(
        self, partition: int, records: Sequence[ChangelogRecord], done: Callable[[], None]
    ) -> None:
        self.written.append((partition, list(records)))
        self.records_total += len(records)
        done()

    def poll(self, timeout: float = 0.0) -> None:
        del timeout

    def flush(self, timeout: float) -> bool:
        del timeout
        return True

    def markers(self) -> list[int]:
        """The offsets covered by the markers written, in order."""
        return [
            decode(value)[0]
            for _, records in self.written
            for key, value, _ in records
            if key == MARKER_KEY and value is not None
        ]

    def partition_markers(self) -> list[tuple[int, int]]:
        """(partition, offset covered) of every marker written, in write order."""
        return [
            (partition, decode(value)[0])
            for partition, records in self.written
            for key, value, _ in records
            if key == MARKER_KEY and value is not None
        ]


RULES = (SilentRule(name="quiet", sensor="s", after_ms=5_000),)


def setup(
    rules: tuple[Rule, ...] = (),
    ttl_ms: int | None = None,
    windows: tuple[WindowSpec, ...] = (Tumbling(1_000),),
    close_budget: int = 250,
) -> tuple[Checkpointer, MemoryWriter, Aggregator, PartitionOffsets]:
    writer = MemoryWriter()

    def read(partitions: Sequence[int]) -> Mapping[int, Latest]:
        return {p: {} for p in partitions}

    checkpointer = Checkpointer(
        writer=writer,  # type: ignore[arg-type]
        read=read,
        interval=1.0,
        ttl_ms=ttl_ms,
        registry=CollectorRegistry(),
    )
    checkpointer.start()
    agg = Aggregator(windows=windows, rules=rules, clock=FakeClock(), close_budget=close_budget)
    tracker = PartitionOffsets("readings", 0)
    agg.open_partition(tracker)
    state = agg.state(tracker)
    assert state is not None
    checkpointer.restore([(tracker, state)])
    return checkpointer, writer, agg, tracker


def feed(agg: Aggregator, tracker: PartitionOffsets, offsets: range) -> None:
    agg.process([(tracker, o, reading(f"d{o % 5}", "s", T0 + o, 1.0, o)) for o in offsets])


def test_an_epoch_waits_for_its_outputs_and_epochs_are_written_in_order() -> None:
    checkpointer, writer, agg, tracker = setup()
    feed(agg, tracker, range(10))
    first = checkpointer.ack(tracker)
    assert first is not None
    first.pending = 2  # two outputs of this stretch still in flight
    checkpointer.poll(LATER + 10.0)  # cut: covers offsets 0..9
    feed(agg, tracker, range(10, 20))
    second = checkpointer.ack(tracker)
    assert second is not None
    assert second is not first
    second.pending = 1
    checkpointer.poll(LATER + 20.0)  # due again, but one cut waits already: not cut (memory)
    assert checkpointer.ack(tracker) is second
    assert writer.markers() == []
    assert tracker.durable is None
    first.pending = 0  # delivered: written, then the due cut is made (covers 0..19)
    checkpointer.poll(LATER + 20.5)
    assert writer.markers() == [10]
    assert checkpointer.ack(tracker) is not second
    feed(agg, tracker, range(20, 25))
    second.pending = 0
    checkpointer.poll(LATER + 20.6)
    assert writer.markers() == [10, 20]
    assert tracker.durable == 20
    assert tracker.committable() == 20  # the consumed position, not the oldest open window


def test_a_failed_pass_is_never_checkpointed_but_whole_epochs_before_it_are() -> None:
    checkpointer, writer, agg, tracker = setup()
    feed(agg, tracker, range(10))
    whole = checkpointer.ack(tracker)
    assert whole is not None
    whole.pending = 1
    checkpointer.poll(LATER + 10.0)  # a whole epoch, waiting for an output
    feed(agg, tracker, range(10, 15))  # ... then a pass raises halfway
    checkpointer.fail()
    checkpointer.poll(LATER + 20.0)  # a cut is due: none is made
    checkpointer.cut([tracker])  # nor on revoke
    whole.pending = 0
    checkpointer.finish([tracker], timeout=1.0)
    assert writer.markers() == [10]
    assert tracker.durable == 10


def test_a_lost_partition_writes_nothing() -> None:
    checkpointer, writer, agg, tracker = setup()
    feed(agg, tracker, range(10))
    epoch = checkpointer.ack(tracker)
    assert epoch is not None
    epoch.pending = 1
    checkpointer.poll(LATER + 10.0)
    epoch.pending = 0
    checkpointer.drop([tracker])  # on_lost: another member may own it already
    checkpointer.poll(LATER + 20.0)
    assert writer.written == []
    assert checkpointer.ack(tracker) is None


@pytest.mark.parametrize(
    ("windows", "rules"),
    [
        ((Tumbling(1_000),), ()),
        ((Tumbling(1_000),), RULES),
        ((Session(300),), ()),
    ],
    ids=["windows", "windows+silence", "sessions"],
)
def test_a_checkpoint_saves_the_state_at_its_cut_while_input_goes_on(
    windows: tuple[WindowSpec, ...], rules: tuple[Rule, ...]
) -> None:
    """The cut marks keys and encodes them a few hundred per pass, or just before a reading,
    a closing window or a silence timer changes them: what is written is the state at the
    cut, the same as encoding every key at once (a twin run cut synchronously)."""
    checkpointer, writer, agg, tracker = setup(rules, windows=windows)
    twin = Aggregator(windows=windows, rules=rules, clock=FakeClock())
    twin.open_partition(0)
    twin_state = twin.state(0)
    assert twin_state is not None
    keys = 2_000  # several passes' worth of saving

    def stream(offsets: range, partition: object) -> list[Event]:
        return [
            (partition, o, reading(f"d{o % keys}", "s", T0 + o // 4, float(o % 13), o))
            for o in offsets
        ]

    agg.process(stream(range(6_000), tracker))
    twin.process(stream(range(6_000), 0))
    checkpointer.poll(LATER + 10.0)  # the cut: nothing encoded yet beyond one pass' budget
    want, _ = delta(twin_state, None)
    agg.process(stream(range(6_000, 7_000), tracker))  # a reading changes half the keys
    # One device far ahead: every other key's window closes (and its silence fires).
    agg.process([(tracker, 7_000, reading("d0", "s", T0 + 60_000, 1.0, 7_000))])
    for i in range(100):
        checkpointer.poll(LATER + 10.0 + i / 1_000)
    assert writer.markers() == [6_000]
    (_, written), *_ = writer.written

    def decoded(records: list[ChangelogRecord]) -> dict[bytes, Any]:
        out = {}
        for key, value, _ in records:
            assert value is not None
            covers, kind, body = decode(value)
            if kind == "marker":
                body = {**body, "written_ms": 0}
            out[key] = (covers, body)
        return out

    assert len(written) == keys + 1
    assert decoded(written) == decoded(want)


def test_keys_expire_while_a_checkpoint_waits_for_a_slow_sink() -> None:
    """The TTL does not wait for the next cut: keys are evicted at every due time, and their
    tombstones go with the cut that the delivered outputs finally allow."""
    # Every window closes in one pass: a key still unsaved by the cut costs SAVE_COST of the
    # close budget, and a window left open would keep its key from expiring.
    checkpointer, writer, agg, tracker = setup(ttl_ms=10_000, close_budget=100 * (1 + SAVE_COST))
    agg.process([(tracker, i, reading(f"once-{i}", "s", T0 + i, 1.0, 0)) for i in range(100)])
    held = checkpointer.ack(tracker)
    assert held is not None
    held.pending = 1  # an output the sink has not delivered
    checkpointer.poll(LATER + 1.0)  # cut, then held up
    agg.process([(tracker, 100, reading("late-comer", "s", T0 + 30_000, 1.0, 0))])
    checkpointer.poll(LATER + 2.0)  # due again: no cut, but the TTL has passed for 100 keys
    state = agg.state(tracker)
    assert state is not None
    assert set(state.keys) == {("late-comer", "s")}
    (evicted,) = [
        sample.value
        for family in checkpointer.metrics.evicted.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    assert evicted == 100
    assert writer.written == []
    held.pending = 0
    checkpointer.poll(LATER + 2.5)  # the first written, the due cut made
    checkpointer.poll(LATER + 2.6)  # and written
    assert writer.markers() == [100, 101]
    tombstones = [key for key, value, _ in writer.written[1][1] if value is None]
    assert len(tombstones) == 100


def test_partitions_take_turns_to_cut_once_per_interval() -> None:
    """Cuts are spread over the interval, one partition at a time, so the keys a cut marks
    (each encoded before its next change) are never the whole state at once."""
    checkpointer, writer, agg, first = setup()
    second = PartitionOffsets("readings", 1)
    agg.open_partition(second)
    state = agg.state(second)
    assert state is not None
    checkpointer.restore([(second, state)])
    feed(agg, first, range(10))
    feed(agg, second, range(20))
    checkpointer.poll(LATER)  # the first partition's turn
    checkpointer.poll(LATER + 0.1)  # written (encoded the pass after its cut); no other cut
    assert writer.partition_markers() == [(0, 10)]
    checkpointer.poll(LATER + 0.5)  # the second one's turn, interval / 2 partitions later
    checkpointer.poll(LATER + 0.6)
    assert writer.partition_markers() == [(0, 10), (1, 20)]
    feed(agg, first, range(10, 15))
    feed(agg, second, range(20, 25))
    checkpointer.poll(LATER + 1.0)  # the first one's again: each is cut once per interval
    checkpointer.poll(LATER + 1.1)
    assert writer.partition_markers() == [(0, 10), (1, 20), (0, 15)]


def test_keys_expire_in_every_partition_at_every_turn() -> None:
    """Memory follows the TTL within interval / partitions: a partition's expired keys go at
    the next turn of any partition, not only at its own cut."""
    checkpointer, _, agg, first = setup(ttl_ms=10_000, close_budget=1_000)
    second = PartitionOffsets("readings", 1)
    agg.open_partition(second)
    state = agg.state(second)
    assert state is not None
    checkpointer.restore([(second, state)])
    agg.process([(second, i, reading(f"once-{i}", "s", T0 + i, 1.0, 0)) for i in range(50)])
    checkpointer.poll(LATER)  # the first partition's turn
    checkpointer.poll(LATER + 0.5)  # the second's, cutting its keys
    checkpointer.poll(LATER + 0.6)  # and saving them
    agg.process([(second, 50, reading("late-comer", "s", T0 + 30_000, 1.0, 0))])
    checkpointer.poll(LATER + 1.0)  # the first partition's turn again, not the second's
    assert set(state.keys) == {("late-comer", "s")}
    del first


def test_closing_keeps_up_when_every_closed_key_waits_for_its_checkpoint_save() -> None:
    """A pass closes as many windows as its readings could open even when each closed key is
    still unsaved by a cut (and costs SAVE_COST): one-shot devices do not pile up."""
    checkpointer, _, agg, tracker = setup(close_budget=1)
    agg.process([(tracker, i, reading(f"once-{i}", "s", T0 + i, 1.0, 0)) for i in range(100)])
    checkpointer.poll(LATER)  # the cut marks all 100 keys, none encoded yet
    state = agg.state(tracker)
    assert state is not None
    assert sum(key.snap for key in state.keys.values()) == 100
    later: list[Event] = [
        (tracker, 100 + i, reading(f"next-{i}", "s", T0 + 5_000 + i, 1.0, 0)) for i in range(100)
    ]
    out = agg.process(later)
    assert len([e for e in out if e.kind == ROLLUP]) == 100
