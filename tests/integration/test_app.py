"""The whole processor on a real broker: a fleet's readings in, exactly the expected rollups and
alert transitions out, including the last windows, closed by the idle clock after input stops."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from telemetry.app import App
from telemetry.codec import Encoder, LocalSchemaSource, RecordDecoder
from telemetry.config import Config, KafkaConfig, ProcessingConfig, TopicsConfig
from telemetry.rules import SilentRule, ThresholdRule
from telemetry.windows import Hopping, Tumbling, WindowSpec
from tests.conftest import ConsumerFactory, ProducerFactory, TopicFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

T0 = 1_700_000_000_000
DEVICES, STEPS, SENSORS = 1_000, 101, ("temp", "hum")
WINDOWS: tuple[WindowSpec, ...] = (
    Tumbling(size_ms=10_000),
    Hopping(size_ms=20_000, advance_ms=10_000),
)
OVERHEAT = ThresholdRule(name="overheat", sensor="temp", raise_at=120, clear_at=100, debounce=2)
SILENT = SilentRule(name="silent", sensor="temp", after_ms=5_000, severity="CRITICAL")
Reading = dict[str, Any]


def fleet() -> Iterator[Reading]:
    """In event-time order per partition; every 50th device overheats for three steps and every
    100th (from the 7th) goes silent halfway."""
    for step in range(STEPS):
        for d in range(DEVICES):
            if d % 100 == 7 and step >= STEPS // 2:
                continue
            ts = T0 + step * 1_000 + (d % 7) * 50  # jitter well within the lateness
            for s, sensor in enumerate(SENSORS):
                value = 20.0 + d % 10 + math.sin(step / 7 + s) * 3
                if sensor == "temp" and d % 50 == 0 and 30 <= step <= 32:
                    value = 150.0
                yield {
                    "device_id": f"dev-{d:04}",
                    "sensor": sensor,
                    "ts": ts,
                    "value": value,
                    "seq": step,
                }


def expected_rollups(readings: list[Reading]) -> dict[tuple[str, str, str, int, int], Reading]:
    series: dict[tuple[str, str, int, int, str], list[Reading]] = defaultdict(list)
    for r in readings:
        for spec in WINDOWS:
            assert isinstance(spec, Tumbling | Hopping)
            advance = spec.advance_ms if isinstance(spec, Hopping) else spec.size_ms
            size = spec.size_ms
            kind = "HOPPING" if isinstance(spec, Hopping) else "TUMBLING"
            ts = r["ts"]
            for start in range(ts - ts % advance, ts - size, -advance):
                series[r["device_id"], r["sensor"], start, size, kind].append(r)
    out = {}
    for (device, sensor, start, size, kind), rows in series.items():
        values = [r["value"] for r in rows]
        mean = sum(values) / len(values)
        ordered = sorted(rows, key=lambda r: r["ts"])
        out[device, sensor, kind, start, size] = {
            "count": len(values),
            "min": min(values),
            "max": max(values),
            "sum": sum(values),
            "mean": mean,
            "stddev": math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)),
            "first": ordered[0]["value"],
            "last": ordered[-1]["value"],
            "window_end": start + size,
        }
    return out


def expected_alerts(readings: list[Reading]) -> list[tuple[str, str, str, str, float, int]]:
    alerts = []
    last: dict[str, Reading] = {}
    state: dict[str, tuple[bool, int]] = {}
    for r in readings:
        if r["sensor"] != "temp":
            continue
        device, value = r["device_id"], r["value"]
        last[device] = r
        raised, run = state.get(device, (False, 0))
        wanted = value < OVERHEAT.clear_at if raised else value > OVERHEAT.raise_at
        run = run + 1 if wanted else 0
        if run >= OVERHEAT.debounce:
            raised, run = not raised, 0
            alerts.append(
                (device, "temp", "overheat", "RAISED" if raised else "CLEARED", value, r["ts"])
            )
        state[device] = (raised, run)
    # Every device ends silent: mid-stream for some, after the input stops for all the rest.
    for device, r in last.items():
        alerts.append((device, "temp", "silent", "RAISED", r["value"], r["ts"] + SILENT.after_ms))
    return alerts


def _drain_topic(
    consumer: Consumer, topic: str, want: int, decode: Callable[[bytes], Reading], timeout: float
) -> list[Reading]:
    consumer.assign([TopicPartition(topic, p, 0) for p in range(8)])
    rows: list[Reading] = []
    deadline = time.monotonic() + timeout
    while len(rows) < want and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=5_000, timeout=0.5):
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            row = decode(value)
            assert message.key() == row["device_id"].encode()
            rows.append(row)
    rows.extend(  # and nothing beyond
        decode(message.value() or b"")
        for message in consumer.consume(num_messages=1_000, timeout=2.0)
    )
    consumer.unassign()
    return rows


def test_fleet_yields_exactly_the_expected_rollups_and_alerts(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    group_id: str,
) -> None:
    topics = TopicsConfig(
        readings=topic_factory(8),
        rollups=topic_factory(8),
        alerts=topic_factory(8),
        deadletter=topic_factory(8),
    )
    readings = list(fleet())
    assert len(readings) >= 200_000
    schemas = LocalSchemaSource()
    encoder = Encoder(schemas.schema_ids)
    producer = producer_factory(**{"linger.ms": 20})
    for i, reading in enumerate(readings):
        schema_id = 1 if i % 3 else 2  # v1 and v2 writers side by side
        while True:
            try:
                producer.produce(
                    topics.readings, encoder.encode(schema_id, reading), reading["device_id"]
                )
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0

    config = Config(
        kafka=KafkaConfig(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        processing=ProcessingConfig(
            group_id=group_id,
            windows=WINDOWS,
            rules=(OVERHEAT, SILENT),
            allowed_lateness_ms=1_000,
            idle_timeout_ms=1_000,
            max_past_ms=20 * 365 * 24 * 3600 * 1000,  # the fleet's clock is in 2023
            commit_interval_s=1.0,
        ),
    )
    rollups_wanted = expected_rollups(readings)
    alerts_wanted = expected_alerts(readings)
    app = App(config)
    runner = threading.Thread(target=app.run, name="app")
    runner.start()
    try:
        decoder = RecordDecoder(schemas)
        rollups = _drain_topic(
            consumer_factory(),
            topics.rollups,
            len(rollups_wanted),
            lambda v: decoder.decode(v)[1],
            timeout=120,
        )
        alerts = _drain_topic(
            consumer_factory(),
            topics.alerts,
            len(alerts_wanted),
            lambda v: decoder.decode(v)[1],
            timeout=60,
        )
        snapshot = app.snapshot()
    finally:
        app.request_drain()
        runner.join(60)
    assert not runner.is_alive()

    got = {
        (r["device_id"], r["sensor"], r["window_kind"], r["window_start"], r["window_size_ms"]): r
        for r in rollups
    }
    assert len(got) == len(rollups), "duplicate rollups"
    assert got.keys() == rollups_wanted.keys()
    for key, want in rollups_wanted.items():
        row = got[key]
        for name, value in want.items():
            assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, name)

    got_alerts = sorted(
        (a["device_id"], a["sensor"], a["rule"], a["state"], a["value"], a["ts"]) for a in alerts
    )
    assert got_alerts == sorted(alerts_wanted)
    assert snapshot["deadletters"] == 0
    assert snapshot["late"] == 0
    assert snapshot["rollups"] == len(rollups_wanted)
    assert snapshot["alerts"] == len(alerts_wanted)
