"""The sink's bookkeeping that needs no broker: cutting dead letters that do not fit, retries,
and what delivery reports release (a fake producer: its reports are served by ``poll``, as
librdkafka's are, when the test says so)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from telemetry.errors import KafkaClientError
from telemetry.kafka import KafkaMetrics, KafkaSink, Output, PartitionOffsets, Pending
from telemetry.kafka import _sink as sink_module
from telemetry.kafka._sink import CUT_COPY_BYTES, HEADER_ORIGINAL_BYTES, cut_to_fit

TOO_LARGE = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)


def test_only_dead_letters_are_cut() -> None:
    rollup = Output("rollups", b"x" * 2_000_000, b"k")
    assert not cut_to_fit(rollup, TOO_LARGE)
    assert rollup.value == b"x" * 2_000_000


def test_a_dead_letter_is_cut_step_by_step_down_to_a_pointer() -> None:
    original = b"\x07" + b"y" * 1_039_999
    ours = [("telemetry.error.reason", b"bad_magic"), ("telemetry.source.offset", b"42")]
    letter = Output("dlq", original, b"k", [("trace", b"z" * 900_000), *ours])
    letter.cuttable = True
    assert cut_to_fit(letter, TOO_LARGE)  # 1: a cut copy, the original's size in a header
    assert letter.value == original[:CUT_COPY_BYTES]
    assert (HEADER_ORIGINAL_BYTES, b"1040000") in (letter.headers or [])
    assert cut_to_fit(letter, TOO_LARGE)  # 2: without the original's own headers
    assert letter.headers == [*ours, (HEADER_ORIGINAL_BYTES, b"1040000")]
    assert cut_to_fit(letter, TOO_LARGE)  # 3: a pointer only
    assert letter.value is None
    assert letter.headers == [*ours, (HEADER_ORIGINAL_BYTES, b"1040000")]
    assert not cut_to_fit(letter, TOO_LARGE)  # nothing left: the sink escalates


def test_failed_deliveries_are_retried_in_order_and_kept_when_retries_run_out() -> None:
    sink = KafkaSink(
        name="sink", config={}, max_retries=1, metrics=KafkaMetrics(CollectorRegistry())
    )
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT, retriable=True)
    outs = [Output("alerts", f"{i}".encode(), b"k") for i in range(3)]  # RAISED, CLEARED, ...

    def fail_all() -> None:
        for out in outs:
            sink._in_flight += 1
            sink._report(out, timed_out, None)  # type: ignore[arg-type]
        sink._backlog.clear()

    fail_all()
    sink._settle()
    assert list(sink._backlog) == outs  # the original order, not reversed
    fail_all()
    with pytest.raises(KafkaClientError, match="failed 2 time"):
        sink._settle()
    assert list(sink._backlog) == outs  # escalated with every output still queued


def test_a_producer_restart_keeps_every_undelivered_output_and_grants_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outputs stuck in the old producer (its broker unreachable) are purged, come back as
    failed reports and are produced again by the new producer: none is forgotten, none is
    counted as a delivery failure, and the room they hold is not granted upstream again."""
    monkeypatch.setattr(sink_module, "RESTART_FLUSH_S", 0.2)
    registry = CollectorRegistry()
    sink = KafkaSink(
        name="sink", config={"bootstrap.servers": "127.0.0.1:1"}, metrics=KafkaMetrics(registry)
    )
    sink._open()  # as start() does, without a pipeline to grant demand to
    stuck = [Output("alerts", f"{i}".encode(), b"k") for i in range(3)]
    sink._produce(stuck)
    assert sink.in_flight() == 3
    old = sink.producer
    sink.restart()  # a grant would raise here: the sink has no subscription to ask
    assert sink.producer is not old
    assert sink.in_flight() == 3  # all of them, now in the new producer
    assert sink._failed == []
    assert sink._retries == {}
    failures = registry.get_sample_value(
        "telemetry_kafka_delivery_failures_total", {"stage": "sink"}
    )
    assert not failures
    assert sink.producer is not None
    sink.producer.purge()
    sink.producer.flush(1)


Report = Callable[[KafkaError | None, Any], None]
TIMED_OUT = KafkaError(KafkaError._MSG_TIMED_OUT, retriable=True)


class FakeProducer:
    """The part of confluent_kafka.Producer the sink uses. Produced messages wait for the test
    to :meth:`report` them; their callbacks run inside the next :meth:`poll`."""

    def __init__(self, room: int | None = None) -> None:
        self.room = room  # local queue size: BufferError beyond it
        self.unreported: list[tuple[bytes | None, Report]] = []
        self.ready: list[tuple[Report, KafkaError | None]] = []
        self.values: list[bytes | None] = []  # every produce, in order

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: object = None,
        headers: object = None,
        on_delivery: Report | None = None,
    ) -> None:
        del topic, key, headers
        assert on_delivery is not None
        if self.room is not None and len(self.unreported) + len(self.ready) >= self.room:
            raise BufferError("Local: Queue full")
        self.unreported.append((value, on_delivery))
        self.values.append(value)

    def report(self, value: bytes, error: KafkaError | None = None) -> None:
        """The broker answered for the (oldest unreported) message with ``value``."""
        index = next(i for i, (v, _) in enumerate(self.unreported) if v == value)
        _, callback = self.unreported.pop(index)
        self.ready.append((callback, error))

    def poll(self, timeout: float = 0.0) -> int:
        del timeout
        ready, self.ready = self.ready, []
        for callback, error in ready:
            callback(error, None)
        return len(ready)

    def flush(self, timeout: float = 0.0) -> int:
        self.poll(timeout)
        return len(self.unreported)


class GrantingSink(KafkaSink):
    """A sink without a pipeline: demand it grants upstream is recorded instead."""

    def __init__(self, producer: FakeProducer, **kw: Any) -> None:
        registry = CollectorRegistry()
        super().__init__(name="sink", config={}, metrics=KafkaMetrics(registry), **kw)
        self.registry = registry
        self.granted: list[int] = []
        self.producer = producer  # type: ignore[assignment]

    def ask(self, n: int, producer: object = None) -> None:
        del producer
        self.granted.append(n)

    def sample(self, name: str) -> float | None:
        return self.registry.get_sample_value(name, {"stage": "sink"})


def outputs_of(tracker: PartitionOffsets, offsets: list[int], tag: str = "") -> list[Output]:
    """What the aggregation emits for ``offsets``: outputs holding their input offsets (each
    output's value is ``tag`` and its offset)."""
    tracker.emit(offsets)
    outs = []
    for offset in offsets:
        tracker.hold(offset)
        outs.append(Output("alerts", f"{tag}{offset}".encode(), b"k", None, tracker, offset))
    tracker.release_all(offsets)  # the aggregation took the readings
    return outs


def test_delivered_outputs_release_their_offsets_and_give_their_room_back() -> None:
    producer = FakeProducer()
    sink = GrantingSink(producer)
    tracker = PartitionOffsets("readings", 0)
    sink.write(outputs_of(tracker, [0, 1, 2]))
    assert sink.in_flight() == 3
    assert tracker.committable() == 0
    producer.report(b"1")  # reports of different output partitions come in any order
    sink.wait(0)
    assert tracker.committable() == 0
    producer.report(b"0")
    sink.wait(0)
    assert tracker.committable() == 2
    producer.report(b"2")
    sink.wait(0)
    assert tracker.committable() == 3
    assert sink.in_flight() == 0
    assert sum(sink.granted) == 3
    assert sink.sample("telemetry_kafka_produced_messages_total") == 3
    assert sink.sample("telemetry_kafka_in_flight_messages") == 0


def test_a_failed_delivery_holds_its_offset_and_is_produced_again_in_order() -> None:
    producer = FakeProducer()
    sink = GrantingSink(producer, max_retries=3)
    tracker = PartitionOffsets("readings", 0)
    sink.write(outputs_of(tracker, [0, 1, 2]))
    producer.report(b"0", TIMED_OUT)
    producer.report(b"1", TIMED_OUT)
    sink.wait(0)
    assert tracker.committable() == 0  # nothing released by a failure
    assert sink.granted == []  # the retried outputs keep their room
    assert sink.sample("telemetry_kafka_delivery_failures_total") == 2
    assert sink.backlog() == 2
    sink.wait(0)  # produced again, in their order
    assert producer.values == [b"0", b"1", b"2", b"0", b"1"]
    assert sink.in_flight() == 3
    for value in (b"0", b"1", b"2"):
        producer.report(value)
    sink.wait(0)
    assert tracker.committable() == 3
    assert sum(sink.granted) == 3
    assert sink._retries == {}


def test_a_delivery_that_keeps_failing_surfaces_with_its_offset_still_held() -> None:
    producer = FakeProducer()
    sink = GrantingSink(producer, max_retries=1)
    tracker = PartitionOffsets("readings", 0)
    sink.write(outputs_of(tracker, [0]))
    producer.report(b"0", TIMED_OUT)
    sink.wait(0)
    sink.wait(0)  # the retry
    producer.report(b"0", TIMED_OUT)
    with pytest.raises(KafkaClientError, match="failed 2 time"):
        sink.wait(0)
    assert tracker.committable() == 0  # never committed past it
    assert sink.backlog() == 1  # still queued: a restart produces it again


def test_a_fatal_delivery_error_surfaces_at_once() -> None:
    producer = FakeProducer()
    sink = GrantingSink(producer, max_retries=3)
    tracker = PartitionOffsets("readings", 0)
    sink.write(outputs_of(tracker, [0]))
    producer.report(b"0", KafkaError(KafkaError._FATAL, fatal=True))
    with pytest.raises(KafkaClientError, match="failed 1 time"):
        sink.wait(0)
    assert tracker.committable() == 0


def test_each_output_is_acknowledged_once_however_often_it_was_produced() -> None:
    producer = FakeProducer()
    sink = GrantingSink(producer, max_retries=3)
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([5])
    tracker.hold(5)  # a rollup and an alert of the same reading
    tracker.hold(5)
    tracker.release_all([5])
    handle = Pending()
    rollup = Output("rollups", b"r", b"k", None, tracker, 5)
    alert = Output("alerts", b"a", b"k", None, tracker, 5)
    dead = Output("dlq", b"d", b"k")
    dead.ack = handle
    handle.pending = 1
    sink.write([rollup, alert, dead])
    producer.report(b"r", TIMED_OUT)
    producer.report(b"d", TIMED_OUT)
    sink.wait(0)
    sink.wait(0)  # both produced again
    producer.report(b"r")
    producer.report(b"d")
    sink.wait(0)
    assert tracker.committable() == 5  # the alert still holds it
    assert handle.pending == 0
    producer.report(b"a")
    sink.wait(0)
    assert tracker.committable() == 6
    assert tracker.held == {}
    assert handle.pending == 0
    assert sum(sink.granted) == 3


def test_a_full_local_queue_keeps_the_rest_waiting_in_order() -> None:
    producer = FakeProducer(room=2)
    sink = GrantingSink(producer)
    tracker = PartitionOffsets("readings", 0)
    sink.write(outputs_of(tracker, [0, 1, 2, 3, 4]))
    assert producer.values == [b"0", b"1"]
    assert sink.backlog() == 3
    assert sink.in_flight() == 5
    producer.report(b"0")
    producer.report(b"1")
    sink.wait(0)  # reports served; the room is librdkafka's again
    sink.wait(0)
    assert producer.values == [b"0", b"1", b"2", b"3"]
    producer.report(b"2")
    producer.report(b"3")
    sink.wait(0)
    sink.wait(0)
    producer.report(b"4")
    sink.wait(0)
    assert producer.values == [b"0", b"1", b"2", b"3", b"4"]
    assert tracker.committable() == 5
    assert sum(sink.granted) == 5


def test_outputs_of_a_revoked_partition_still_waiting_are_abandoned_and_give_room_back() -> None:
    producer = FakeProducer(room=1)
    sink = GrantingSink(producer)
    revoked = PartitionOffsets("readings", 0)
    kept = PartitionOffsets("readings", 1)
    sink.write([*outputs_of(revoked, [0, 1], "r"), *outputs_of(kept, [0], "k")])
    assert producer.values == [b"r0"]  # the rest waits behind the full queue
    revoked.revoked = True
    sink.finish([revoked], timeout=0.0, abandon=True)
    assert sink.backlog() == 1  # the kept partition's output only
    assert sink.sample("telemetry_kafka_abandoned_outputs_total") == 1
    sink.wait(0)
    assert sink.granted == [1]  # the abandoned output's room
    producer.report(b"r0")  # in flight when revoked: its late report is harmless
    sink.wait(0)
    sink.wait(0)
    assert producer.values == [b"r0", b"k0"]
    producer.report(b"k0")
    sink.wait(0)
    assert kept.committable() == 1
    assert sum(sink.granted) == 3
