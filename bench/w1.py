"""Workload W1: 1,000,000 readings of 5,000 devices x 2 sensors, and its exact expected output.

Reading ``i``: series drawn by ``random.Random(SEED)``; ``ts = T0 + i // 10``; value ~ N(50, 10),
exactly 150.0 with probability 0.001; key = device id; partition = crc32(key) % 8.

Expected output under 10 s tumbling windows, ``allowed_lateness_ms = 1000`` and an idle timeout
that never fires: a window is emitted once the watermark of its partition (max ts - lateness)
reaches its end; one threshold rule per sensor (raise above 120, clear below 120, debounce 1).
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from confluent_kafka import Producer

from bench._common import PARTITIONS, create_topics, delete_topics, record_count, topic_exists
from telemetry.codec import Encoder, LocalSchemaSource

SEED = 20_240_601
T0 = 1_700_000_000_000
DEVICES = 5_000
SENSORS = ("temperature", "humidity")
ANOMALY = 150.0
ANOMALY_P = 0.001
WINDOW_MS = 10_000
LATENESS_MS = 1_000
IDLE_TIMEOUT_MS = 3_600_000
RAISE_AT = 120.0
W1_RECORDS = 1_000_000
DEVICE_IDS = [f"device-{d:04d}" for d in range(DEVICES)]
PARTITION_OF = [zlib.crc32(d.encode()) % PARTITIONS for d in DEVICE_IDS]

Reading = tuple[str, str, int, float, int]
"""(device_id, sensor, ts, value, seq)."""


def rule_name(sensor: str) -> str:
    return f"{sensor}-high"


def readings(count: int, seed: int = SEED) -> Iterator[tuple[int, Reading]]:
    """``(partition, reading)`` for reading 0 .. count - 1, in production order."""
    rng = random.Random(seed)
    randrange, uniform, gauss = rng.randrange, rng.random, rng.gauss
    seq = [0] * DEVICES
    for i in range(count):
        series = randrange(DEVICES * 2)
        device = series >> 1
        value = ANOMALY if uniform() < ANOMALY_P else gauss(50.0, 10.0)
        n = seq[device]
        seq[device] = n + 1
        reading = (DEVICE_IDS[device], SENSORS[series & 1], T0 + i // 10, value, n)
        yield PARTITION_OF[device], reading


def ensure_topic(bootstrap: str, topic: str, count: int, log: bool = True) -> None:
    """Generate ``count`` readings into ``topic`` unless it already holds exactly that many."""
    if topic_exists(bootstrap, topic):
        held = record_count(bootstrap, topic)
        if held == count:
            return
        if log:
            print(f"{topic}: holds {held:,} records, not {count:,}: regenerating")
        delete_topics(bootstrap, topic)
        time.sleep(2)
    create_topics(bootstrap, topic)
    started = time.monotonic()
    fill(bootstrap, topic, count)
    if log:
        print(f"{topic}: generated {count:,} readings in {time.monotonic() - started:.0f} s")


def fill(bootstrap: str, topic: str, count: int) -> None:
    encoder = Encoder(LocalSchemaSource().schema_ids)
    encode = encoder.encode
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.num.messages": 10_000,
            "enable.idempotence": True,
            "compression.type": "lz4",
        }
    )
    failed = 0

    def report(error: object, _message: object) -> None:
        nonlocal failed
        if error is not None:
            failed += 1

    for partition, (device, sensor, ts, value, seq) in readings(count):
        payload = encode(
            1, {"device_id": device, "sensor": sensor, "ts": ts, "value": value, "seq": seq}
        )
        while True:
            try:
                producer.produce(
                    topic, payload, device.encode(), partition=partition, on_delivery=report
                )
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(300) or failed:
        raise SystemExit(f"{topic}: {failed} readings failed to be delivered")


# -- expected output -----------------------------------------------------------------------

RollupKey = tuple[str, str, int]
"""(device_id, sensor, window_start)."""
AlertKey = tuple[str, str, str, int]
"""(device_id, sensor, state, ts)."""


@dataclass
class Expected:
    rollups: dict[RollupKey, tuple[int, float, float, float]] = field(default_factory=dict)
    """count, min, max, sum."""
    alerts: dict[AlertKey, float] = field(default_factory=dict)
    """value of the reading that changed the state."""


def expected(count: int) -> Expected:
    """What a correct processor emits for the first ``count`` readings (see module doc)."""
    windows: dict[RollupKey, list[float]] = {}
    max_ts = [-1] * PARTITIONS
    raised: set[tuple[str, str]] = set()
    out = Expected()
    for partition, (device, sensor, ts, value, _) in readings(count):
        max_ts[partition] = max(max_ts[partition], ts)
        key = (device, sensor, ts - ts % WINDOW_MS)
        acc = windows.get(key)
        if acc is None:
            windows[key] = [1, value, value, value]
        else:
            acc[0] += 1
            acc[1] = min(acc[1], value)
            acc[2] = max(acc[2], value)
            acc[3] += value
        series = (device, sensor)
        if series in raised:
            if value < RAISE_AT:
                raised.discard(series)
                out.alerts[device, sensor, "CLEARED", ts] = value
        elif value > RAISE_AT:
            raised.add(series)
            out.alerts[device, sensor, "RAISED", ts] = value
    for (device, sensor, start), acc in windows.items():
        watermark = max_ts[PARTITION_OF[int(device[7:])]] - LATENESS_MS
        if start + WINDOW_MS <= watermark:
            out.rollups[device, sensor, start] = (int(acc[0]), acc[1], acc[2], acc[3])
    return out


def config_yaml(  # noqa: PLR0917 - one place writes every scenario's processor config
    bootstrap: str,
    readings_topic: str,
    rollups: str,
    alerts: str,
    deadletter: str,
    group: str,
    port: int,
    *,
    changelog: bool = True,
    processing: Mapping[str, object] | None = None,
) -> str:
    """The processor configuration of W1 (also used by the latency and backlog scenarios).

    ``changelog=False`` adds ``processing.changelog: false`` (state in memory only); the
    changelog topic, when on, is the default ``<group>-state-changelog``. ``processing`` adds
    more ``processing`` keys (e.g. ``guarantee: exactly_once``)."""
    rules = "\n".join(
        f"    - {{kind: threshold, name: {rule_name(s)}, sensor: {s}, raise_at: {RAISE_AT},"
        f" clear_at: {RAISE_AT}, debounce: 1}}"
        for s in SENSORS
    )
    state = "" if changelog else "  changelog: false\n"
    state += "".join(f"  {key}: {value}\n" for key, value in (processing or {}).items())
    return f"""\
kafka:
  bootstrap_servers: "{bootstrap}"
topics:
  readings: {readings_topic}
  rollups: {rollups}
  alerts: {alerts}
  deadletter: {deadletter}
  partitions: {PARTITIONS}
  retention_ms: -1
processing:
  group_id: {group}
  windows:
    - {{kind: tumbling, size_ms: {WINDOW_MS}}}
  rules:
{rules}
  allowed_lateness_ms: {LATENESS_MS}
  idle_timeout_ms: {IDLE_TIMEOUT_MS}
{state}metrics:
  host: 127.0.0.1
  port: {port}
log:
  format: json
  level: INFO
"""
