"""Partitions added to the readings topic while a worker runs: it is logged loudly, the
changelog grows to match, and the new partitions are restored (empty), consumed and committed
like the others; the worker never stops."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions  # type: ignore[attr-defined]

from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import FleetShape, fleet
from tests.integration.workers import Feeder, Worker, wait_for

GROWN = PARTITIONS + 2
CHANGED = "keys now hash to other partitions"


def _positions(bootstrap: str, group: str, topic: str) -> tuple[list[int], list[int]]:
    """(committed, end) of every partition of the grown topic."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(GROWN)]
        committed = [tp.offset for tp in consumer.committed(parts, timeout=10)]
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
        return committed, ends
    finally:
        consumer.close()


def test_added_readings_partitions_are_logged_and_processed(
    make_scenario: ScenarioFactory, kafka_bootstrap: str
) -> None:
    config, prefix = make_scenario()
    readings_topic = f"{prefix}.readings"
    readings = fleet(FleetShape(devices=200, steps=60))
    half = len(readings) // 2
    # A short metadata refresh: the member sees the new partitions within seconds.
    env = {"TELEMETRY_KAFKA__EXTRA": "{topic.metadata.refresh.interval.ms: 2000}"}
    worker = Worker("w", config, env=env).start()
    try:
        wait_for(lambda: worker.assigned() == PARTITIONS, 60, "the assignment")
        Feeder(kafka_bootstrap, readings_topic, readings[:half], 10_000).start().join(60)
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.create_partitions([NewPartitions(readings_topic, GROWN)])[readings_topic].result(30)
        wait_for(lambda: worker.assigned() == GROWN, 60, "the new partitions")
        # A new producer knows the new partitions: some devices' readings now land there.
        Feeder(kafka_bootstrap, readings_topic, readings[half:], 10_000).start().join(60)

        def caught_up() -> bool:
            committed, ends = _positions(kafka_bootstrap, prefix, readings_topic)
            return committed == ends

        wait_for(caught_up, 90, "every partition committed to its end")
        assert worker.proc is not None
        assert worker.proc.poll() is None, worker.lines[-5:]
        wait_for(  # the statistics come every 5 s
            lambda: worker.metric("telemetry_kafka_topic_partitions") == GROWN, 30, "the metric"
        )
        wait_for(lambda: bool(worker.logged(CHANGED)), 30, "the log line")
    finally:
        worker.stop()
    _, ends = _positions(kafka_bootstrap, prefix, readings_topic)
    assert all(end > 0 for end in ends[PARTITIONS:]), ends  # the new partitions got input
    [changed] = worker.logged(CHANGED)
    assert changed["level"] == "ERROR"
    assert f"{readings_topic} changed from {PARTITIONS} to {GROWN}" in changed["message"]
    assert worker.logged(f"grew the changelog {prefix}-state-changelog from {PARTITIONS}")
    metadata = admin.list_topics(f"{prefix}-state-changelog", timeout=10)
    assert len(metadata.topics[f"{prefix}-state-changelog"].partitions) == GROWN
