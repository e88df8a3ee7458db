"""The Kafka source on a real broker: how soon an idle source hands on what arrives."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from telemetry.kafka import KafkaMetrics, KafkaSource
from tests.conftest import ProducerFactory, TopicFactory

pytestmark = pytest.mark.integration

IDLE_SLICE_S = 20.0
"""Far longer than a fetch takes: a wait that lasts it out waited for a full batch."""


def test_idle_wait_wakes_on_the_first_message_not_a_full_batch(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    group_id: str,
) -> None:
    topic = topic_factory(1)
    source = KafkaSource(
        name="source",
        config={"bootstrap.servers": kafka_bootstrap, "group.id": group_id},
        topics=[topic],
        metrics=KafkaMetrics(CollectorRegistry()),
    )
    source.start()
    try:
        source.on_demand(5_000)
        deadline = time.monotonic() + 60
        # Joined and caught up with the (empty) partition: from here on, only our message.
        while not any(t.end_offset is not None for t in source.partitions.values()):
            assert time.monotonic() < deadline, "the source never reached the partition's end"
            source.wait(0.2)
        producer = producer_factory()
        producer.produce(topic, b"reading", b"device-1")
        assert producer.flush(10) == 0

        started = time.monotonic()
        while source.buffered() == 0 and time.monotonic() - started < 2 * IDLE_SLICE_S:
            source.wait(IDLE_SLICE_S)
        waited = time.monotonic() - started

        assert source.buffered() == 1
        assert waited < IDLE_SLICE_S / 2, f"waited {waited:.1f} s for one message"
        [record] = source.pull(5_000)
        assert record.message.value() == b"reading"
    finally:
        source.stop()


def test_a_rebalance_makes_kept_partitions_reach_their_end_anew_before_they_count_idle(
    kafka_bootstrap: str, topic_factory: TopicFactory, group_id: str
) -> None:
    """A member joining restarts the fetchers of the partitions this one keeps: their old
    end-of-partition says nothing about what arrives meanwhile (seen as false silence alerts
    and early closes right after a takeover), so they are idle only once librdkafka reports
    their end again."""
    topic = topic_factory(4)
    config = {"bootstrap.servers": kafka_bootstrap, "group.id": group_id}
    first = KafkaSource(name="first", config=config, topics=[topic])
    second = KafkaSource(name="second", config=config, topics=[topic])
    first.start()
    try:
        first.on_demand(5_000)
        _wait(lambda: len(first.partitions) == 4 and _all_caught_up(first), first)
        second.start()
        second.on_demand(5_000)
        both = (first, second)
        _wait(lambda: len(first.partitions) < 4, *both)
        kept = list(first.partitions.values())
        assert kept, "the first member kept nothing"
        assert not any(t.caught_up() for t in kept), "an end from before the rebalance counted"
        _wait(lambda: _all_caught_up(first), *both)  # reported again once fetching resumed
    finally:
        second.stop()
        first.stop()


def _all_caught_up(source: KafkaSource) -> bool:
    return bool(source.partitions) and all(t.caught_up() for t in source.partitions.values())


def _wait(condition: Callable[[], bool], *sources: KafkaSource) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        for source in sources:
            source.wait(0.05)
