"""The source's group membership as the processor's readiness sees it (no broker needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.kafka import KafkaMetrics, KafkaSource, PartitionOffsets


def test_a_member_that_lost_its_partitions_is_not_ready_until_assigned_again() -> None:
    source = KafkaSource(
        name="source",
        config={"group.id": "g"},
        topics=["readings"],
        metrics=KafkaMetrics(CollectorRegistry()),
    )
    consumer = Consumer({"group.id": "g"})  # never connects: only handed to the callbacks
    lost: list[tuple[int, bool]] = []

    def listener(trackers: Sequence[PartitionOffsets], timeout: float, abandon: bool) -> None:
        del timeout
        lost.extend((t.partition, abandon) for t in trackers)

    source.revoke_listeners.append(listener)
    try:
        assign = [TopicPartition("readings", 0), TopicPartition("readings", 1)]
        source._on_assign(consumer, assign)
        assert source.joined
        source._on_lost(consumer, assign)
        assert not source.joined  # /readyz turns false
        assert sorted(lost) == [(0, True), (1, True)]  # state dropped, nothing written
        consumer.incremental_unassign(assign)  # as librdkafka does after the callback
        source._on_assign(consumer, assign[:1])
        assert source.joined
    finally:
        consumer.close()


def test_a_failed_asynchronous_commit_is_counted_and_made_again() -> None:
    registry = CollectorRegistry()
    source = KafkaSource(
        name="source", config={"group.id": "g"}, topics=["r"], metrics=KafkaMetrics(registry)
    )
    consumer = Consumer({"group.id": "g"})
    try:
        source._on_assign(consumer, [TopicPartition("r", 0)])
        tracker = source.partitions["r", 0]
        tracker.checkpointed = True
        tracker.durable = 42
        tracker.committed = 42  # what commit() records when it sends the request
        assert tracker.pending_commit() is None
        source._on_commit(
            KafkaError(KafkaError.REBALANCE_IN_PROGRESS), [TopicPartition("r", 0, 42)]
        )
        assert tracker.pending_commit() == 42  # due again at the next interval
        failures = registry.get_sample_value(
            "telemetry_kafka_commit_failures_total", {"stage": "source"}
        )
        assert failures == 1
        source._on_commit(None, [TopicPartition("r", 0, 42)])  # a success changes nothing
        assert failures == registry.get_sample_value(
            "telemetry_kafka_commit_failures_total", {"stage": "source"}
        )
    finally:
        consumer.close()


def _stats(fetches: int, hi_offset: int) -> str:
    """librdkafka's statistics, the parts the source reads: one broker, one partition."""
    broker = {"nodeid": 1, "state": "UP", "req": {"Fetch": fetches}}
    part = {"leader": 1, "fetch_state": "active", "hi_offset": hi_offset, "consumer_lag": 0}
    return json.dumps({"brokers": {"b1": broker}, "topics": {"r": {"partitions": {"0": part}}}})


def test_after_a_reconnect_the_end_counts_only_from_a_fetch_answered_since() -> None:
    source = KafkaSource(
        name="source",
        config={"group.id": "g"},
        topics=["r"],
        metrics=KafkaMetrics(CollectorRegistry()),
    )
    consumer = Consumer({"group.id": "g"})
    try:
        source._on_assign(consumer, [TopicPartition("r", 0)])
        tracker = source.partitions["r", 0]
        tracker.fetched_until = 100  # everything up to the end before the outage
        tracker.emitted_until = 100
        source._on_client_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
        assert tracker.end_offset is None
        # Back up: the watermark in the statistics is still the one from before the outage,
        # while the producers' backlog is on its way: no end yet.
        source._on_stats(_stats(fetches=40, hi_offset=100))
        assert tracker.reachable
        assert tracker.end_offset is None
        source._on_stats(_stats(fetches=41, hi_offset=100))
        assert tracker.end_offset is None  # that fetch may have been answered before
        # Two fetches later one was answered since: its watermark is news.
        source._on_stats(_stats(fetches=42, hi_offset=180))
        assert tracker.end_offset is None  # 80 new readings not fetched yet
        tracker.fetched_until = 180
        source._on_stats(_stats(fetches=43, hi_offset=180))
        assert tracker.end_offset == 180
    finally:
        consumer.close()
