"""The checkpoint cycle's bookkeeping: an epoch is written only once its outputs are delivered,
in order; a failed pass is never checkpointed; a lost partition writes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry

from telemetry.aggregate import Aggregator, Checkpointer
from telemetry.aggregate._snapshot import MARKER_KEY, decode
from telemetry.kafka import PartitionOffsets
from telemetry.kafka._changelog import ChangelogRecord, Latest
from telemetry.windows import Tumbling
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


def setup() -> tuple[Checkpointer, MemoryWriter, Aggregator, PartitionOffsets]:
    writer = MemoryWriter()

    def read(partitions: Sequence[int]) -> Mapping[int, Latest]:
        return {p: {} for p in partitions}

    checkpointer = Checkpointer(
        writer=writer,  # type: ignore[arg-type]
        read=read,
        interval=1.0,
        ttl_ms=None,
        registry=CollectorRegistry(),
    )
    checkpointer.start()
    agg = Aggregator(windows=(Tumbling(1_000),), clock=FakeClock())
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
    checkpointer.poll(LATER + 20.0)  # cut again: covers 0..19, but must wait behind the first
    assert writer.markers() == []
    assert tracker.durable is None
    first.pending = 0  # delivered
    checkpointer.poll(LATER + 20.5)
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
