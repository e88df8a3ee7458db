"""The demand-driven pipeline on a real broker: delivery, backpressure, crash and rebalance."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.kafka import KafkaMetrics, KafkaSink
from tests.conftest import ConsumerFactory, ProducerFactory, TopicFactory
from tests.support import forwarding_pipeline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 8


def _fill(producer: Producer, topic: str, count: int, start: int = 0) -> None:
    """Produce values start..start+count-1 (decimal text), keyed over 5,000 devices."""
    for i in range(start, start + count):
        while True:
            try:
                producer.produce(topic, str(i).encode(), f"device-{i % 5000}".encode())
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def _read_all(consumer: Consumer, topic: str, quiet: float = 3.0) -> list[tuple[int, int, int]]:
    """Every (value, partition, offset) of ``topic`` until it stays quiet for ``quiet`` seconds."""
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    rows: list[tuple[int, int, int]] = []
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        batch = consumer.consume(num_messages=10_000, timeout=0.5)
        if batch:
            last = time.monotonic()
        for message in batch:
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            rows.append((int(value), message.partition() or 0, message.offset() or 0))
    consumer.unassign()
    return rows


def _committed(consumer: Consumer, topic: str) -> dict[int, int]:
    tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    return {tp.partition: tp.offset for tp in tps}


def _high(consumer: Consumer, topic: str) -> dict[int, int]:
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(PARTITIONS)
    }


def _metric(registry: CollectorRegistry, name: str, stage: str) -> float:
    return registry.get_sample_value(name, {"stage": stage}) or 0.0


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(120)
def test_every_record_forwarded_once_and_offsets_committed(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    group_id: str,
) -> None:
    source_topic, output_topic = topic_factory(PARTITIONS), topic_factory(PARTITIONS)
    total = 50_000
    _fill(producer_factory(), source_topic, total)
    registry = CollectorRegistry()
    pipeline, _, _ = forwarding_pipeline(
        bootstrap=kafka_bootstrap,
        group=group_id,
        input_topic=source_topic,
        output_topic=output_topic,
        registry=registry,
    )
    deadline = time.monotonic() + 60
    pipeline.run(
        until=lambda: (
            _metric(registry, "telemetry_kafka_produced_messages_total", "sink") >= total
            or time.monotonic() > deadline
        )
    )
    assert pipeline.drain(30)
    reader = consumer_factory(**{"group.id": group_id + "-reader"})
    values = Counter(value for value, _, _ in _read_all(reader, output_topic))
    assert len(values) == total
    assert set(values) == set(range(total))
    assert max(values.values()) == 1
    checker = consumer_factory()
    assert _committed(checker, source_topic) == _high(checker, source_topic)
    assert _metric(registry, "telemetry_stage_events_in_total", "sink") == total


@pytest.mark.timeout(400)
def test_slow_sink_pauses_partitions_and_memory_stays_flat(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    group_id: str,
) -> None:
    source_topic, output_topic = topic_factory(PARTITIONS), topic_factory(PARTITIONS)
    total = 1_000_000
    _fill(producer_factory(**{"linger.ms": 50, "batch.num.messages": 10_000}), source_topic, total)
    registry = CollectorRegistry()
    # The unthrottled pass-through runs at ~100k events/s here: 1,000/s is 1% of it.
    sink = KafkaSink(
        name="sink",
        config={"bootstrap.servers": kafka_bootstrap},
        rate_limit=1_000,
        metrics=KafkaMetrics(registry),
    )
    pipeline, source, _ = forwarding_pipeline(
        bootstrap=kafka_bootstrap,
        group=group_id,
        input_topic=source_topic,
        output_topic=output_topic,
        registry=registry,
        sink=sink,
    )
    pipeline.start()

    def run_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pipeline.run_once()

    run_for(10)  # join the group, fill every buffer, reach the steady state
    rss_before = _rss_bytes()
    paused_samples = []
    for _ in range(60):
        run_for(1)
        paused_samples.append(_metric(registry, "telemetry_kafka_paused_partitions", "source"))
        assert source.buffered() <= source.prefetch + 1_000 + 1  # demand + prefetch, +1 poll
    growth = _rss_bytes() - rss_before
    print(f"RSS {rss_before / 2**20:.0f} MiB -> +{growth / 2**20:.1f} MiB over 60 s")  # noqa: T201
    delivered = _metric(registry, "telemetry_kafka_produced_messages_total", "sink")
    assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB in a minute"
    # Resumed only while there is room for what the sink asks each second: mostly paused.
    fully_paused = sum(1 for sample in paused_samples if sample == PARTITIONS)
    assert fully_paused >= len(paused_samples) // 2, f"paused partitions: {paused_samples}"
    assert _metric(registry, "telemetry_kafka_partition_pauses_total", "source") >= PARTITIONS
    assert delivered < 0.1 * total, "the throttle did not hold"

    sink.set_rate_limit(None)
    deadline = time.monotonic() + 120
    while _metric(registry, "telemetry_kafka_produced_messages_total", "sink") < total:
        assert time.monotonic() < deadline, "the backlog did not clear after the throttle lifted"
        pipeline.run_once()
    assert _metric(registry, "telemetry_kafka_paused_partitions", "source") == 0
    assert pipeline.drain(30)

    reader = consumer_factory(**{"group.id": group_id + "-reader"})
    values = Counter(value for value, _, _ in _read_all(reader, output_topic))
    assert len(values) == total, "records lost"
    assert max(values.values()) == 1, "records duplicated"
    checker = consumer_factory()
    assert _committed(checker, source_topic) == _high(checker, source_topic)


def _forwarder(
    bootstrap: str, group: str, source: str, output: str, rate: float, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.forwarder",
                bootstrap,
                group,
                source,
                output,
                "--rate",
                str(rate),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def _wait_committed(consumer: Consumer, topic: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    high = _high(consumer, topic)
    while _committed(consumer, topic) != high:
        assert time.monotonic() < deadline, f"{_committed(consumer, topic)} != {high}"
        time.sleep(0.5)


def _offsets_by_value(consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    return {value: (p, o) for value, p, o in _read_all(consumer, topic, quiet=2.0)}


@pytest.mark.timeout(240)
def test_sigkill_mid_stream_loses_nothing_and_commits_only_done_work(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    group_id: str,
    tmp_path: Path,
) -> None:
    source_topic, output_topic = topic_factory(PARTITIONS), topic_factory(PARTITIONS)
    total = 60_000
    _fill(producer_factory(), source_topic, total)
    first = _forwarder(
        kafka_bootstrap, group_id, source_topic, output_topic, 8_000, tmp_path / "1.log"
    )
    checker = consumer_factory(**{"group.id": group_id})
    deadline = time.monotonic() + 60
    while sum(_committed(checker, source_topic).values()) < 10_000:  # mid-stream, commits made
        assert first.poll() is None, (tmp_path / "1.log").read_text()
        assert time.monotonic() < deadline, "no progress before the crash"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(10)

    committed = _committed(checker, source_topic)
    inputs = _offsets_by_value(consumer_factory(**{"group.id": group_id + "-in"}), source_topic)
    outputs = {
        v for v, _, _ in _read_all(consumer_factory(**{"group.id": group_id + "-o1"}), output_topic)
    }
    assert 0 < len(outputs) < total, "the crash was not mid-stream"
    # No committed offset passed unfinished work: every input below it has its output.
    done_but_missing = [
        value for value, (p, o) in inputs.items() if o < committed[p] and value not in outputs
    ]
    assert done_but_missing == []

    second = _forwarder(
        kafka_bootstrap, group_id, source_topic, output_topic, 0, tmp_path / "2.log"
    )
    try:
        _wait_committed(checker, source_topic, timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "2.log").read_text()
    final = Counter(
        v for v, _, _ in _read_all(consumer_factory(**{"group.id": group_id + "-o2"}), output_topic)
    )
    assert set(final) == set(range(total)), "an input never got its output"


REVOKE_LINE = re.compile(r"revoked .* in (\d+\.\d+)s")


@pytest.mark.timeout(240)
def test_member_joining_and_leaving_mid_stream_loses_nothing(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    group_id: str,
    tmp_path: Path,
) -> None:
    source_topic, output_topic = topic_factory(PARTITIONS), topic_factory(PARTITIONS)
    total = 80_000
    _fill(producer_factory(), source_topic, total)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = _forwarder(kafka_bootstrap, group_id, source_topic, output_topic, 8_000, logs[0])
    checker = consumer_factory(**{"group.id": group_id})
    try:
        deadline = time.monotonic() + 60
        while sum(_committed(checker, source_topic).values()) < 5_000:
            assert time.monotonic() < deadline, logs[0].read_text()
            time.sleep(0.2)
        second = _forwarder(kafka_bootstrap, group_id, source_topic, output_topic, 8_000, logs[1])
        deadline = time.monotonic() + 30
        while "assigned" not in logs[1].read_text():
            assert time.monotonic() < deadline, logs[1].read_text()
            time.sleep(0.2)
        time.sleep(3)  # both members work side by side
        second.send_signal(signal.SIGTERM)  # leaves: its partitions go back to the first
        assert second.wait(30) == 0, logs[1].read_text()
        first_log = logs[0].read_text()
        assert "revoked" in first_log, "the join did not move partitions away from the first"
        _wait_committed(checker, source_topic, timeout=120)
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, logs[0].read_text()

    revokes = [float(m) for log in logs for m in REVOKE_LINE.findall(log.read_text())]
    assert revokes, "no revoke was logged"
    assert max(revokes) < 10.0, f"a revoke exceeded its 10 s bound: {revokes}"
    outputs = Counter(
        v for v, _, _ in _read_all(consumer_factory(**{"group.id": group_id + "-o"}), output_topic)
    )
    assert set(outputs) == set(range(total)), "records lost across the rebalance"
