"""The decode stage without Kafka: fake messages, real trackers, the real engine."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from typing import Any, cast

import pytest
from confluent_kafka import Message
from prometheus_client import CollectorRegistry

from telemetry.codec import (
    HEADER_MESSAGE,
    HEADER_REASON,
    HEADER_SCHEMA_ID,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    AvroSchema,
    DeadLetterReporter,
    Encoder,
    LocalSchemaSource,
    RateLimitedLog,
    ReadingDecoder,
    Reason,
    RecordDecoder,
)
from telemetry.decode import Decode, DecodeEvent, ReadingEvent, ReadingsToOutputs
from telemetry.errors import SchemaSourceError, StageError
from telemetry.kafka import Output, PartitionOffsets, Record
from telemetry.stages import Pipeline, Sink, Source, Supervision

NOW_MS = 1_700_000_000_000
V1, V2, ROLLUP = 1, 2, 3
TOPIC, DLQ = "readings.raw", "readings.dlq"
COUNTER = "telemetry_deadletter_records_total"
SOURCE = LocalSchemaSource()
ENCODER = Encoder(SOURCE.schema_ids)


class FakeMessage:
    """Stands in for a consumed ``confluent_kafka.Message``."""

    def __init__(
        self,
        value: bytes | None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes | str | None]] | None = None,
    ) -> None:
        self._value, self._key, self._headers = value, key, headers

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[tuple[str, bytes | str | None]] | None:
        return self._headers


def _reframed(value: bytes, schema_id: int) -> bytes:
    """``value`` under another schema id (Confluent framing: magic byte, 4-byte big-endian id)."""
    return value[:1] + schema_id.to_bytes(4, "big") + value[5:]


def records(
    values: Sequence[bytes | None],
    tracker: PartitionOffsets | None = None,
    *,
    first: int = 100,
    headers: list[tuple[str, bytes | str | None]] | None = None,
) -> list[Record]:
    """Records at offsets ``first``, ``first + 1``, ... emitted (held) as the source does."""
    tracker = tracker or PartitionOffsets(TOPIC, 3)
    out = [
        Record(cast(Message, FakeMessage(v, f"key-{i}".encode(), headers)), tracker, first + i)
        for i, v in enumerate(values)
    ]
    if out:
        tracker.emit([r.offset for r in out])
    return out


def reading(seq: int, **overrides: Any) -> dict[str, Any]:
    return {
        "device_id": f"device-{seq % 7}",
        "sensor": "temperature",
        "ts": NOW_MS - seq,
        "value": 20.0 + seq / 4,
        "seq": seq,
        **overrides,
    }


def v1(seq: int, **overrides: Any) -> bytes:
    return ENCODER.encode(V1, reading(seq, **overrides))


def v2(seq: int, **overrides: Any) -> bytes:
    extra = {"unit": "Cel", "battery_level": 0.5, "firmware": "1.2.3"}
    return ENCODER.encode(V2, {**reading(seq), **extra, **overrides})


def as_v2(seq: int) -> dict[str, Any]:
    return {**reading(seq), "unit": None, "battery_level": None, "firmware": None}


def make_decode(
    registry: CollectorRegistry | None = None,
    *,
    source: Any = SOURCE,
    reporter: DeadLetterReporter | None = None,
    **kwargs: Any,
) -> Decode:
    decoder = ReadingDecoder(source, now=lambda: NOW_MS / 1000)
    return Decode(
        name="decode",
        decoder=decoder,
        dead_letter_topic=DLQ,
        registry=registry,
        reporter=reporter,
        **kwargs,
    )


def counts(registry: CollectorRegistry) -> dict[str, float]:
    found = {r.value: registry.get_sample_value(COUNTER, {"reason": r.value}) for r in Reason}
    return {reason: value for reason, value in found.items() if value}


# -- the stage's output --------------------------------------------------------------------


def test_good_batch_becomes_reading_events_in_order() -> None:
    tracker = PartitionOffsets(TOPIC, 3)
    batch = records([v1(0), v2(1), v1(2)], tracker)
    out = make_decode().process(batch)
    assert all(type(e) is ReadingEvent for e in out)
    events = cast(list[ReadingEvent], out)
    assert [e.offset for e in events] == [100, 101, 102]
    assert all(e.offsets is tracker for e in events)
    assert events[0].reading == as_v2(0)  # v1 writer: the v2 defaults
    assert events[1].reading == {
        **reading(1),
        "unit": "Cel",
        "battery_level": 0.5,
        "firmware": "1.2.3",
    }
    assert repr(events[2]) == "ReadingEvent(readings.raw[3]@102)"


def test_failures_become_dead_letter_outputs_in_place() -> None:
    registry = CollectorRegistry()
    tracker = PartitionOffsets(TOPIC, 3)
    bad_magic = b"\x01" + v1(1)[1:]
    truncated = v1(3)[:-3]
    batch = records([v1(0), bad_magic, v2(2), truncated, None, v1(5, value=math.nan)], tracker)
    out = make_decode(registry).process(batch)
    assert [type(e).__name__ for e in out] == [
        "ReadingEvent",
        "Output",
        "ReadingEvent",
        "Output",
        "Output",
        "Output",
    ]
    assert [e.offset for e in out] == [100, 101, 102, 103, 104, 105]
    assert all(e.offsets is tracker for e in out if isinstance(e, ReadingEvent))
    assert cast(ReadingEvent, out[2]).reading["seq"] == 2

    letters = [e for e in out if isinstance(e, Output)]
    for letter, record in zip(letters, [batch[1], batch[3], batch[4], batch[5]], strict=True):
        assert letter.topic == DLQ
        assert letter.value == record.message.value()
        assert letter.key == record.message.key()
        assert letter.source is tracker
        assert letter.offset == record.offset
    reasons = [dict(cast(list[tuple[str, bytes]], o.headers))[HEADER_REASON] for o in letters]
    assert reasons == [b"bad_magic", b"truncated", b"too_short", b"non_finite"]

    headers = dict(cast(list[tuple[str, bytes]], letters[1].headers))
    assert headers[HEADER_SOURCE_TOPIC] == TOPIC.encode()
    assert headers[HEADER_SOURCE_PARTITION] == b"3"
    assert headers[HEADER_SOURCE_OFFSET] == b"103"
    assert headers[HEADER_SCHEMA_ID] == b"1"
    assert headers[HEADER_MESSAGE]
    assert HEADER_SCHEMA_ID not in dict(cast(list[tuple[str, bytes]], letters[0].headers))
    assert letters[2].value is None  # a tombstone stays a tombstone

    assert counts(registry) == {"bad_magic": 1, "truncated": 1, "too_short": 1, "non_finite": 1}


def test_dead_letter_keeps_the_original_headers_first() -> None:
    original: list[tuple[str, bytes | str | None]] = [("trace", b"abc"), ("empty", None)]
    batch = records([b"\x00\x00\x00\x00\x63" + v1(0)[5:]], headers=original)
    (letter,) = make_decode().process(batch)
    assert isinstance(letter, Output)
    assert letter.headers is not None
    assert letter.headers[:2] == original
    assert dict(cast(list[tuple[str, bytes]], letter.headers[2:])) == {
        HEADER_REASON: b"unknown_schema",
        HEADER_MESSAGE: b"schema id 99 is unknown",
        HEADER_SOURCE_TOPIC: TOPIC.encode(),
        HEADER_SOURCE_PARTITION: b"3",
        HEADER_SOURCE_OFFSET: b"100",
        HEADER_SCHEMA_ID: b"99",
    }


def test_every_kind_of_failure_and_an_all_failed_batch() -> None:
    registry = CollectorRegistry()
    broken: list[bytes | None] = [
        b"\x07" + v1(0)[1:],
        b"\x00\x00",
        b"\x00\x00\x00\x00\x63" + v1(0)[5:],
        v1(0)[:-1],
        v1(0) + b"\x00",
        v1(0, value=math.inf),
        v1(0, ts=NOW_MS + 30 * 86_400_000),
        v1(0, ts=NOW_MS - 11 * 365 * 86_400_000),
        _reframed(v1(0), ROLLUP),  # a writer schema that is no SensorReading
    ]
    out = make_decode(registry).process(records(broken))
    assert all(isinstance(e, Output) for e in out)
    expected = {
        "bad_magic": 1,
        "too_short": 1,
        "unknown_schema": 1,
        "truncated": 1,
        "trailing_bytes": 1,
        "non_finite": 1,
        "bad_timestamp": 1,
        "future_timestamp": 1,
        "schema_mismatch": 1,
    }
    assert counts(registry) == expected


@pytest.mark.parametrize("seed", range(20))
def test_one_event_per_input_in_order_random_mix(seed: int) -> None:
    rnd = random.Random(seed)
    values: list[bytes | None] = []
    good: list[bool] = []
    for seq in range(rnd.randint(0, 300)):
        kind = rnd.random()
        if kind < 0.6:
            values.append(v1(seq) if rnd.random() < 0.5 else v2(seq))
            good.append(True)
        else:
            values.append(rnd.choice([b"\x01" + v1(seq)[1:], v1(seq)[:-2], None, b"\x00"]))
            good.append(False)
    registry = CollectorRegistry()
    tracker = PartitionOffsets(TOPIC, 0)
    out = make_decode(registry).process(records(values, tracker, first=0))
    assert [e.offset for e in out] == list(range(len(values)))
    assert [isinstance(e, ReadingEvent) for e in out] == good
    for seq, event in enumerate(out):
        if isinstance(event, ReadingEvent):
            assert event.reading["seq"] == seq
    assert sum(counts(registry).values()) == good.count(False)


# -- counting and logging ------------------------------------------------------------------


def test_log_once_per_reason_per_interval_flushed_on_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    logger = logging.getLogger("telemetry.test.decode")
    log = RateLimitedLog(logger=logger, interval=10.0, clock=lambda: clock[0])
    registry = CollectorRegistry()
    decode = make_decode(reporter=DeadLetterReporter(registry=registry, log=log))
    bad = [b"\x01" + v1(i)[1:] for i in range(500)] + [v1(0)[:-1]] * 500
    with caplog.at_level(logging.WARNING, logger=logger.name):
        decode.process(records(bad))
        decode.process(records(bad, first=1000))
        assert len(caplog.records) == 2  # the first of each reason, at once
        assert decode.on_tick(5.0) == []
        assert len(caplog.records) == 2  # interval not over yet
        clock[0] = 10.0
        decode.on_tick(10.0)
        assert len(caplog.records) == 4
        assert "999 record(s) with reason bad_magic" in caplog.text
        assert "999 record(s) with reason truncated" in caplog.text
        decode.process(records(bad[:1], first=5000))
        decode.stop()  # forces out what is pending
        assert len(caplog.records) == 5
    assert counts(registry) == {"bad_magic": 1001, "truncated": 1000}


def test_injected_registry_is_used() -> None:
    registry = CollectorRegistry()
    decode = make_decode(registry)
    decode.process(records([b"\x01\x00\x00\x00\x01"]))
    assert registry.get_sample_value(COUNTER, {"reason": "bad_magic"}) == 1.0
    assert decode.tick_interval == 1.0


# -- schema source outages -----------------------------------------------------------------


class FlakySource:
    """The local schemas, behind a source that is down for the first ``outages`` lookups."""

    def __init__(self, outages: int) -> None:
        self.outages = outages

    def lookup(self, schema_id: int) -> AvroSchema | None:
        if self.outages:
            self.outages -= 1
            raise SchemaSourceError("registry unreachable")
        return SOURCE.lookup(schema_id)

    def register(self, subject: str, schema: AvroSchema) -> int:
        return SOURCE.register(subject, schema)


def test_schema_source_error_is_raised_not_dead_lettered() -> None:
    registry = CollectorRegistry()
    decode = make_decode(registry, source=FlakySource(outages=1))
    batch = records([b"\x01" + v1(0)[1:], v1(1)])
    with pytest.raises(SchemaSourceError):
        decode.process(batch)
    assert counts(registry) == {}  # nothing of the failed batch was counted
    out = decode.process(batch)  # the source is back: the same batch goes through
    assert [type(e) for e in out] == [Output, ReadingEvent]
    assert counts(registry) == {"bad_magic": 1}


class RecordSource(Source[Record]):
    def __init__(self, events: list[Record]) -> None:
        super().__init__(name="source")
        self.events = events

    def pull(self, demand: int) -> list[Record]:
        out, self.events = self.events[:demand], self.events[demand:]
        return out

    def is_exhausted(self) -> bool:
        return not self.events


class DeliveringSink(Sink[Output]):
    """Delivers every output at once: releases its hold, as the Kafka sink does on delivery."""

    def __init__(self) -> None:
        super().__init__(name="sink")
        self.outputs: list[Output] = []

    def write(self, events: list[Output]) -> None:
        for out in events:
            self.outputs.append(out)
            if out.source is not None:
                out.source.release(out.offset)


def pipeline(decode: Decode, batch: list[Record]) -> tuple[Pipeline, DeliveringSink]:
    readings = ReadingsToOutputs(name="readings", topic="out", encoder=ENCODER, schema_id=V2)
    sink = DeliveringSink()
    pipe = Pipeline()
    pipe.subscribe(decode, RecordSource(batch), max_demand=64, min_demand=32)
    pipe.subscribe(readings, decode, max_demand=64, min_demand=32)
    pipe.subscribe(sink, readings, max_demand=64, min_demand=32)
    return pipe, sink


def test_outage_restarts_once_then_recovers_in_the_engine() -> None:
    decode = make_decode(source=FlakySource(outages=1))
    tracker = PartitionOffsets(TOPIC, 0)
    pipe, sink = pipeline(decode, records([v1(0), v2(1)], tracker, first=0))
    pipe.run()
    pipe.stop()
    assert len(sink.outputs) == 2
    assert tracker.committable() == 2


def test_lasting_outage_escalates_and_commits_nothing() -> None:
    decode = make_decode(source=FlakySource(outages=100), supervision=Supervision())
    tracker = PartitionOffsets(TOPIC, 0)
    pipe, sink = pipeline(decode, records([v1(0), v2(1)], tracker, first=0))
    with pytest.raises(StageError, match="registry unreachable"):
        pipe.run()
    assert sink.outputs == []
    assert tracker.committable() == 0  # still held: the records are decoded again later


# -- end to end through the engine ---------------------------------------------------------


def test_pipeline_releases_every_offset_and_reencodes_readings() -> None:
    rnd = random.Random(7)
    values: list[bytes | None] = []
    for seq in range(2_000):
        if rnd.random() < 0.05:
            values.append(b"\x01" + v1(seq)[1:])
        else:
            values.append(v1(seq) if seq % 2 else v2(seq))
    tracker = PartitionOffsets(TOPIC, 0)
    registry = CollectorRegistry()
    pipe, sink = pipeline(make_decode(registry), records(values, tracker, first=0))
    pipe.run()
    pipe.stop()
    assert tracker.committable() == len(values)
    assert tracker.in_flight() == 0
    decoder = RecordDecoder(SOURCE)
    letters = [o for o in sink.outputs if o.topic == DLQ]
    outputs = [o for o in sink.outputs if o.topic == "out"]
    assert len(letters) + len(outputs) == len(values)
    assert counts(registry) == {"bad_magic": len(letters)}
    assert [o.offset for o in sink.outputs] == list(range(len(values)))
    for out in outputs:
        schema_id, record = decoder.decode(out.value)
        assert schema_id == V2
        assert out.key == record["device_id"].encode()
        assert values[out.offset] is not None
        assert record["seq"] == out.offset


def test_readings_to_outputs_passes_outputs_through_untouched() -> None:
    tracker = PartitionOffsets(TOPIC, 1)
    letter = Output(DLQ, b"raw", b"k", [("h", b"v")], tracker, 5)
    event = ReadingEvent(cast(Any, as_v2(6)), tracker, 6)
    stage = ReadingsToOutputs(name="r", topic="out", encoder=ENCODER, schema_id=V2)
    events: list[DecodeEvent] = [letter, event]
    first, second = stage.process(events)
    assert first is letter
    assert (second.topic, second.key, second.source, second.offset) == (
        "out",
        b"device-6",
        tracker,
        6,
    )
    assert RecordDecoder(SOURCE).decode(second.value) == (V2, as_v2(6))


def test_reading_event_release() -> None:
    tracker = PartitionOffsets(TOPIC, 1)
    tracker.emit([4])
    event = ReadingEvent(cast(Any, as_v2(4)), tracker, 4)
    assert tracker.committable() == 4
    event.release()
    assert tracker.committable() == 5
