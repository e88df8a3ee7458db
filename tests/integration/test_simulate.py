"""The simulator against the real broker: N records in, every one decodes as intended."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest
from confluent_kafka import Message

from telemetry.codec import LocalSchemaSource, ReadingDecoder
from telemetry.simulate import BROKEN_KINDS, Fleet, FleetSpec, Progress, simulate, wall_clock_ms
from tests.conftest import ConsumerFactory, ProducerFactory, TopicFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TOTAL = 5_000


def consume_all(consumer_factory: ConsumerFactory, topic: str, want: int) -> list[Message]:
    consumer = consumer_factory()
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + 60
    while len(messages) < want and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1_000, timeout=0.5):
            assert message.error() is None
            messages.append(message)
    return messages


def test_simulated_fleet_round_trips_through_kafka(
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    topic = topic_factory(partitions=4)
    spec = FleetSpec(
        devices=25,
        seed=11,
        anomaly_rate=0.01,
        out_of_order_fraction=0.05,
        late_fraction=0.02,
        broken_fraction=0.02,
        v1_fraction=0.3,
    )
    out = io.StringIO()
    stats = simulate(
        Fleet(spec, start_ms=wall_clock_ms()),
        producer_factory(),
        topic,
        count=TOTAL,
        progress=Progress(out, topic, tty=False),
    )
    assert stats.sent == stats.delivered == TOTAL
    assert stats.failed == 0
    assert out.getvalue().count("\n") == 1
    assert f"sent {TOTAL} records to {topic}" in out.getvalue()

    messages = consume_all(consumer_factory, topic, TOTAL)
    assert len(messages) == TOTAL
    readings, failures = ReadingDecoder(LocalSchemaSource()).decode_batch(
        [m.value() for m in messages]
    )
    assert len(failures) == stats.by_kind["broken"] > 0
    assert {f.reason for f in failures} <= set(BROKEN_KINDS.values())
    assert len(readings) == TOTAL - len(failures)
    # Keyed by device id: one device's records stay on one partition.
    partitions: dict[bytes, set[int]] = {}
    for message in messages:
        key = message.key()
        partition = message.partition()
        assert key is not None
        assert partition is not None
        partitions.setdefault(key, set()).add(partition)
    assert len(partitions) == 25
    assert all(len(p) == 1 for p in partitions.values())
    values = [m.value() for m in messages]
    # Confluent framing: bytes 1-4 hold the big-endian schema id.
    schema_ids = Counter(
        int.from_bytes(v[1:5], "big") for v in values if v is not None and len(v) >= 5 and v[0] == 0
    )
    assert schema_ids[1] > 0
    assert schema_ids[2] > 0


def test_rate_paces_the_producer(
    topic_factory: TopicFactory, producer_factory: ProducerFactory
) -> None:
    topic = topic_factory()
    started = time.monotonic()
    stats = simulate(
        Fleet(FleetSpec(devices=3), start_ms=wall_clock_ms()),
        producer_factory(),
        topic,
        rate=200,
        duration=1.5,
    )
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 5
    assert 250 <= stats.sent <= 320
    assert stats.delivered == stats.sent
