"""The decode path through the real broker: a mixed v1/v2 stream with 1% broken records."""

from __future__ import annotations

import functools
import math
import random
import time
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.codec import (
    HEADER_MESSAGE,
    HEADER_REASON,
    HEADER_SCHEMA_ID,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    Encoder,
    LocalSchemaSource,
    ReadingDecoder,
    Reason,
    RecordDecoder,
)
from telemetry.decode import Decode, DecodeEvent
from telemetry.kafka import Headers, Record
from tests.conftest import ConsumerFactory, ProducerFactory, TopicFactory
from tests.support import decode_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOTAL = 20_000
PARTITIONS = 8
V1, V2, ROLLUP, UNKNOWN = 1, 2, 3, 99
COUNTER = "telemetry_deadletter_records_total"


class TimedDecode(Decode):
    """The decode stage, timing its own ``process`` calls (for the throughput note)."""

    seconds = 0.0
    records = 0

    def process(self, events: list[Record]) -> list[DecodeEvent]:
        started = time.perf_counter()
        out = super().process(events)
        self.seconds += time.perf_counter() - started
        self.records += len(events)
        return out


def _reframed(value: bytes, schema_id: int) -> bytes:
    """``value`` under another schema id (Confluent framing: magic byte, 4-byte big-endian id)."""
    return value[:1] + schema_id.to_bytes(4, "big") + value[5:]


def _broken(
    kind: int, good: bytes, reading: dict[str, Any], encoder: Encoder
) -> tuple[bytes | None, str, int | None]:
    """The ``kind``-th way to break a record: ``(value, expected reason, expected schema id)``."""
    now_ms = reading["ts"]
    cases: list[tuple[bytes | None, str, int | None]] = [
        (b"\x01" + good[1:], Reason.BAD_MAGIC, None),
        (good[:3], Reason.TOO_SHORT, None),
        (None, Reason.TOO_SHORT, None),  # a tombstone
        (good[:-3], Reason.TRUNCATED, V1),
        (good + b"\x00\x01", Reason.TRAILING_BYTES, V1),
        (_reframed(good, UNKNOWN), Reason.UNKNOWN_SCHEMA, UNKNOWN),
        (_reframed(good, ROLLUP), Reason.SCHEMA_MISMATCH, ROLLUP),
        (encoder.encode(V1, {**reading, "value": math.nan}), Reason.NON_FINITE, V1),
        (encoder.encode(V1, {**reading, "value": -math.inf}), Reason.NON_FINITE, V1),
        (
            encoder.encode(V1, {**reading, "ts": now_ms + 30 * 86_400_000}),
            Reason.FUTURE_TIMESTAMP,
            V1,
        ),
        (
            encoder.encode(V1, {**reading, "ts": now_ms - 11 * 365 * 86_400_000}),
            Reason.BAD_TIMESTAMP,
            V1,
        ),
    ]
    return cases[kind % len(cases)]


def _consume_all(consumer: Consumer, topic: str, expected: int) -> list[Message]:
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + 60
    while len(messages) < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=5_000, timeout=0.5):
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                continue
            assert error is None, error
            messages.append(message)
    # Anything beyond the expected count would show up here.
    messages.extend(m for m in consumer.consume(num_messages=100, timeout=1.0) if not m.error())
    return messages


def _high_watermarks(consumer: Consumer, topic: str) -> dict[int, int]:
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(PARTITIONS)
    }


def test_mixed_stream_decodes_and_dead_letters_exactly(
    kafka_bootstrap: str,
    group_id: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    input_topic = topic_factory(partitions=PARTITIONS)
    readings_topic = topic_factory(partitions=PARTITIONS)
    dlq_topic = topic_factory(partitions=1)
    schemas = LocalSchemaSource()
    encoder = Encoder(schemas.schema_ids)
    rnd = random.Random(4)
    now_ms = int(time.time() * 1000)

    # -- the input: v1 and v2 readings, 1% broken in ten ways, some with headers of their own
    broken_at = set(rnd.sample(range(TOTAL), TOTAL // 100))
    good: dict[int, dict[str, Any]] = {}  # seq -> the reading the pipeline should see (v2)
    bad: dict[int, tuple[bytes | None, bytes, str, int | None, Headers | None]] = {}
    sent: dict[int, tuple[int, int]] = {}  # index -> (partition, offset)
    producer = producer_factory(**{"enable.idempotence": True})

    def delivered(index: int, error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        partition, offset = message.partition(), message.offset()
        assert partition is not None
        assert offset is not None
        sent[index] = (partition, offset)

    for i in range(TOTAL):
        device = f"device-{i % 97:05d}"
        reading: dict[str, Any] = {
            "device_id": device,
            "sensor": rnd.choice(["temperature", "humidity", "pressure"]),
            "ts": now_ms - (TOTAL - i) * 10,
            "value": rnd.uniform(-50.0, 150.0),
            "seq": i,
        }
        value: bytes | None
        if i % 2:
            value = encoder.encode(V1, reading)
            expected = {**reading, "unit": None, "battery_level": None, "firmware": None}
        else:
            extra = {
                "unit": rnd.choice(["Cel", "%", None]),
                "battery_level": rnd.choice([0.25, 0.5, 1.0, None]),
                "firmware": rnd.choice(["2.4.1", None]),
            }
            expected = {**reading, **extra}
            value = encoder.encode(V2, expected)
        headers: Headers | None = [("trace", f"trace-{i}".encode())] if i % 10 == 0 else None
        if i in broken_at:
            value, reason, schema_id = _broken(i, encoder.encode(V1, reading), reading, encoder)
            bad[i] = (value, device.encode(), reason, schema_id, headers)
        else:
            good[i] = expected
        producer.produce(
            input_topic,
            value,
            device,
            headers=headers,
            on_delivery=functools.partial(delivered, i),
        )
        if i % 1_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    assert len(sent) == TOTAL
    by_position = {position: index for index, position in sent.items()}

    # -- the pipeline: source -> decode -> readings to outputs -> sink, until all is committed
    registry = CollectorRegistry()
    decode = TimedDecode(
        name="decode",
        decoder=ReadingDecoder(schemas),
        dead_letter_topic=dlq_topic,
        registry=registry,
    )
    run = decode_pipeline(
        bootstrap=kafka_bootstrap,
        group=group_id,
        input_topic=input_topic,
        readings_topic=readings_topic,
        dead_letter_topic=dlq_topic,
        decoder=decode.decoder,
        encoder=encoder,
        reading_schema_id=V2,
        registry=registry,
        decode=decode,
    )
    run.source.commit_interval = 0.5
    probe = consumer_factory(**{"group.id": f"{group_id}-probe"})
    input_high = _high_watermarks(probe, input_topic)
    assert sum(input_high.values()) == TOTAL

    def done() -> bool:
        trackers = run.source.partitions
        return (
            len(trackers) == PARTITIONS
            and run.sink.in_flight() == 0
            and all(
                t.committable() == input_high[t.partition] and not t.in_flight()
                for t in trackers.values()
            )
        )

    started = time.monotonic()
    deadline = started + 120
    run.pipeline.run(until=lambda: done() or time.monotonic() > deadline)
    elapsed = time.monotonic() - started
    finished = done()
    run.pipeline.stop()  # the source commits synchronously on stop (and leaves the group)
    assert finished, "the pipeline did not finish within 120 s"

    # -- every good record decoded, once, equal to what was sent (v1 ones with v2 defaults)
    outputs = _consume_all(probe, readings_topic, len(good))
    assert len(outputs) == len(good)
    decoder = RecordDecoder(schemas)
    seen: set[int] = set()
    for message in outputs:
        schema_id, record = decoder.decode(message.value())
        assert schema_id == V2
        seq = record["seq"]
        assert seq not in seen
        seen.add(seq)
        assert record == good[seq]
        assert message.key() == record["device_id"].encode()
    assert seen == set(good)

    # -- every broken record dead-lettered, once, original key/value/headers plus the headers
    letters = _consume_all(consumer_factory(**{"group.id": f"{group_id}-dlq"}), dlq_topic, len(bad))
    assert len(letters) == len(bad)
    lettered: set[int] = set()
    for message in letters:
        got = message.headers()
        assert isinstance(got, list)
        named = dict(got)
        partition = int(named[HEADER_SOURCE_PARTITION] or -1)
        offset = int(named[HEADER_SOURCE_OFFSET] or -1)
        index = by_position[(partition, offset)]
        assert index not in lettered
        lettered.add(index)
        sent_value, key, reason, schema_id, original = bad[index]
        assert message.value() == sent_value
        assert message.key() == key
        assert named[HEADER_REASON] == reason.encode(), (index, named)
        assert named[HEADER_SOURCE_TOPIC] == input_topic.encode()
        assert named[HEADER_MESSAGE]
        if schema_id is None:
            assert HEADER_SCHEMA_ID not in named
        else:
            assert named[HEADER_SCHEMA_ID] == str(schema_id).encode()
        if original is not None:
            assert got[: len(original)] == original
    assert lettered == set(bad)

    # -- the counter by reason matches, and every input offset was committed
    expected_counts = Counter(reason for _, _, reason, _, _ in bad.values())
    # No such writer here; keys are checked by the processor's decode, not this pipeline's.
    assert set(expected_counts) == set(Reason) - {Reason.MISSING_VALUE, Reason.KEY_MISMATCH}
    for reason in Reason:
        counted = registry.get_sample_value(COUNTER, {"reason": reason.value})
        assert counted == expected_counts.get(reason.value, 0), reason
    checker = consumer_factory()  # the pipeline's group
    committed = checker.committed(
        [TopicPartition(input_topic, p) for p in range(PARTITIONS)], timeout=10
    )
    assert {tp.partition: tp.offset for tp in committed} == input_high

    assert decode.records == TOTAL
    with capsys.disabled():
        print(  # noqa: T201 -- the throughput note of the run
            f"\ndecode stage: {TOTAL / decode.seconds:,.0f} records/s in process() "
            f"({decode.seconds:.3f}s); end to end {TOTAL / elapsed:,.0f} records/s ({elapsed:.1f}s)"
        )
