"""The real broker behaves as the pipeline relies on: keyed order, commits, pause/resume."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from tests.conftest import ConsumerFactory, ProducerFactory, TopicFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _partition(message: Message) -> int:
    partition = message.partition()
    assert partition is not None
    return partition


def _high_watermarks(consumer: Consumer, topic: str, partitions: int) -> dict[int, int]:
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(partitions)
    }


def test_keyed_records_keep_order_and_offsets_commit(
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    topic = topic_factory(partitions=8)
    producer = producer_factory(**{"enable.idempotence": True})
    total, keys = 10_000, 97
    for i in range(total):
        key = f"device-{i % keys}"
        producer.produce(topic, key=key, value=f"{key}:{i // keys}".encode())
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0

    consumer = consumer_factory()
    consumer.subscribe([topic])
    last_seq: dict[str, int] = {}
    per_partition: dict[int, int] = defaultdict(int)
    received = 0
    deadline = time.monotonic() + 60
    while received < total and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=1.0):
            assert message.error() is None, message.error()
            value, message_key = message.value(), message.key()
            assert value is not None
            assert message_key is not None
            key, seq = value.decode().split(":")
            assert message_key.decode() == key
            # Per-key order: every key's sequence arrives strictly increasing, without gaps.
            assert int(seq) == last_seq.get(key, -1) + 1
            last_seq[key] = int(seq)
            per_partition[_partition(message)] += 1
            received += 1
    assert received == total
    assert len(per_partition) == 8, "97 keys should spread over all 8 partitions"

    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, p) for p in range(8)], timeout=10)
    high = _high_watermarks(consumer, topic, 8)
    assert {tp.partition: tp.offset for tp in committed} == high
    assert sum(high.values()) == total


def test_paused_partition_delivers_nothing_until_resumed(
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    partitions, per_partition = 4, 2_000
    topic = topic_factory(partitions=partitions)
    producer = producer_factory()
    for p in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, value=str(i).encode(), partition=p)
    assert producer.flush(30) == 0

    # Small fetches so that partition 0 is still mid-way when it gets paused.
    consumer = consumer_factory(
        **{"fetch.max.bytes": 4096, "message.max.bytes": 4096, "max.partition.fetch.bytes": 1024}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    counts: dict[int, int] = defaultdict(int)
    paused = TopicPartition(topic, 0)

    def drain(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in consumer.consume(num_messages=100, timeout=0.2):
                assert message.error() is None, message.error()
                counts[_partition(message)] += 1

    deadline = time.monotonic() + 30
    while counts[0] == 0 and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1, timeout=0.5):
            counts[_partition(message)] += 1
    assert 0 < counts[0] < per_partition
    consumer.pause([paused])
    at_pause = counts[0]

    deadline = time.monotonic() + 30
    while any(counts[p] < per_partition for p in range(1, partitions)):
        assert time.monotonic() < deadline, f"other partitions stalled: {dict(counts)}"
        drain(0.5)
    drain(2.0)  # time enough for stray fetches of the paused partition to show up
    assert counts[0] == at_pause, "records of a paused partition arrived"

    consumer.resume([paused])
    deadline = time.monotonic() + 30
    while counts[0] < per_partition and time.monotonic() < deadline:
        drain(0.5)
    assert counts[0] == per_partition
    assert all(counts[p] == per_partition for p in range(partitions))
