"""The baseline: a bare hand-written loop doing W1's work, the practical ceiling for Python.

    python -m bench.baseline BOOTSTRAP GROUP READINGS ROLLUPS ALERTS

confluent-kafka consume in batches, fastavro decode, dict-based 10 s tumbling windows closed by
the per-partition watermark (max ts - 1 s), the threshold rule, Avro-encoded rollups and alerts
produced, offsets committed every 5 s (held back to the oldest open window, after a flush).
Prints ``first-consumed <time.monotonic()>`` when the first batch arrives; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from heapq import heappop, heappush
from io import BytesIO
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from fastavro import schemaless_reader

from bench.w1 import LATENESS_MS, RAISE_AT, WINDOW_MS, rule_name
from telemetry.codec import SCHEMA_DIR, Encoder, LocalSchemaSource, load_schema_file
from telemetry.codec._framing import frame_header  # the baseline frames by hand
from telemetry.codec._schemas import READING_V1_FILE, parse_plain

READING_ID, ROLLUP_ID, ALERT_ID = 1, 3, 4
COMMIT_INTERVAL_S = 5.0


class Partition:
    """Windows of one input partition: ``wins[(device, sensor, start)]`` =
    ``[count, min, max, sum, sum of squares, first, last, first offset]``, bucketed by end."""

    __slots__ = ("ends", "heap", "max_ts", "wins")

    def __init__(self) -> None:
        self.max_ts = -1
        self.wins: dict[tuple[str, str, int], list[Any]] = {}
        self.ends: dict[int, list[tuple[str, str, int]]] = {}
        self.heap: list[int] = []


def run(  # noqa: PLR0912, PLR0915 - the loop, inlined on purpose
    bootstrap: str, group: str, readings: str, rollups: str, alerts: str
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 1,
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    encode = Encoder(LocalSchemaSource().schema_ids).encode
    reading_schema = parse_plain(load_schema_file(SCHEMA_DIR / READING_V1_FILE))
    header = frame_header(READING_ID)
    stop = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    failed = 0

    def report(error: KafkaError | None, _message: object) -> None:
        nonlocal failed
        if error is not None:
            failed += 1

    def send(topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report)
            except BufferError:
                producer.poll(0.01)
            else:
                return

    parts: dict[int, Partition] = {}
    raised: set[tuple[str, str]] = set()
    positions: dict[int, int] = {}
    first = True
    next_commit = time.monotonic() + COMMIT_INTERVAL_S
    consumer.subscribe([readings])
    while not stop:
        batch = consumer.consume(num_messages=5_000, timeout=0.1)
        if batch and first:
            first = False
            print(f"first-consumed {time.monotonic()}", flush=True)
        touched: set[Partition] = set()
        for message in batch:
            if message.error() is not None:
                continue
            raw = message.value() or b""
            if raw[:5] != header:
                continue  # not a v1 reading: a real loop would dead-letter it
            body = BytesIO(raw)
            body.seek(5)
            r: Any = schemaless_reader(body, reading_schema, None)
            p: int = message.partition() or 0
            offset: int = message.offset() or 0
            positions[p] = offset + 1
            part = parts.get(p)
            if part is None:
                part = parts[p] = Partition()
            touched.add(part)
            device, sensor, ts, value = r["device_id"], r["sensor"], r["ts"], r["value"]
            part.max_ts = max(part.max_ts, ts)
            start = ts - ts % WINDOW_MS
            end = start + WINDOW_MS
            if end > part.max_ts - LATENESS_MS:  # else late: its window is gone
                key = (device, sensor, start)
                w = part.wins.get(key)
                if w is None:
                    part.wins[key] = [1, value, value, value, value * value, value, value, offset]
                    bucket = part.ends.get(end)
                    if bucket is None:
                        part.ends[end] = bucket = []
                        heappush(part.heap, end)
                    bucket.append(key)
                else:
                    w[0] += 1
                    w[1] = min(w[1], value)
                    w[2] = max(w[2], value)
                    w[3] += value
                    w[4] += value * value
                    w[6] = value
            series = (device, sensor)
            if series in raised:
                if value < RAISE_AT:
                    raised.discard(series)
                    send(alerts, device, encode(ALERT_ID, _alert(device, sensor, False, value, ts)))
            elif value > RAISE_AT:
                raised.add(series)
                send(alerts, device, encode(ALERT_ID, _alert(device, sensor, True, value, ts)))
        for part in touched:
            watermark = part.max_ts - LATENESS_MS
            heap = part.heap
            while heap and heap[0] <= watermark:
                end = heappop(heap)
                for key in part.ends.pop(end):
                    w = part.wins.pop(key)
                    device, sensor, start = key
                    send(rollups, device, encode(ROLLUP_ID, _rollup(key, w)))
        producer.poll(0)
        if time.monotonic() >= next_commit:
            _commit(consumer, producer, readings, parts, positions)
            next_commit = time.monotonic() + COMMIT_INTERVAL_S
    _commit(consumer, producer, readings, parts, positions)
    consumer.close()
    if failed:
        raise SystemExit(f"baseline: {failed} outputs failed to be delivered")


def _commit(
    consumer: Consumer,
    producer: Producer,
    topic: str,
    parts: dict[int, Partition],
    positions: dict[int, int],
) -> None:
    """Deliver what is in flight, then commit up to the oldest reading of any open window."""
    producer.flush(30)
    offsets = []
    for p, position in positions.items():
        part = parts[p]
        floor = min((w[7] for w in part.wins.values()), default=position)
        offsets.append(TopicPartition(topic, p, min(floor, position)))
    if offsets:
        consumer.commit(offsets=offsets, asynchronous=False)


def _rollup(key: tuple[str, str, int], w: list[Any]) -> dict[str, Any]:
    device, sensor, start = key
    count, total = w[0], w[3]
    mean = total / count
    return {
        "device_id": device,
        "sensor": sensor,
        "window_start": start,
        "window_size_ms": WINDOW_MS,
        "window_kind": "TUMBLING",
        "window_end": start + WINDOW_MS,
        "count": count,
        "min": w[1],
        "max": w[2],
        "sum": total,
        "mean": mean,
        "stddev": math.sqrt(max(w[4] / count - mean * mean, 0.0)),
        "first": w[5],
        "last": w[6],
        "p50": None,
        "p95": None,
        "p99": None,
    }


def _alert(device: str, sensor: str, raised: bool, value: float, ts: int) -> dict[str, Any]:
    state = "RAISED" if raised else "CLEARED"
    op = ">" if raised else "<"
    return {
        "device_id": device,
        "sensor": sensor,
        "rule": rule_name(sensor),
        "state": state,
        "severity": "WARNING",
        "value": value,
        "ts": ts,
        "message": f"{rule_name(sensor)} {state.lower()}: {sensor} {value} {op} {RAISE_AT}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("bootstrap", "group", "readings", "rollups", "alerts"):
        parser.add_argument(name)
    args = parser.parse_args(argv)
    run(args.bootstrap, args.group, args.readings, args.rollups, args.alerts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
