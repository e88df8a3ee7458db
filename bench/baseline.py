"""The bare loop: W1's work as a user would write it by hand, the ceiling for Python.

    python -m bench.baseline BOOTSTRAP GROUP READINGS ROLLUPS ALERTS

confluent-kafka consume in batches, fastavro decode, dict-based 10 s tumbling windows of
count/min/max/sum closed by the per-partition watermark (max ts - 1 s), the threshold rule,
JSON rollups and alerts produced, offsets committed every 5 s as consumed (no holds, so a crash
can lose open windows: the bare minimum, not a guarantee). ``bench/baseline_equal.py`` is the
equal-work variant. Prints ``first-consumed <time.monotonic()>`` when the first batch arrives;
SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from io import BytesIO
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer
from fastavro import schemaless_reader

from bench.w1 import LATENESS_MS, RAISE_AT, WINDOW_MS, rule_name
from telemetry.codec import SCHEMA_DIR, load_schema_file
from telemetry.codec._schemas import READING_V1_FILE, parse_plain  # the baseline is plain fastavro

COMMIT_INTERVAL_S = 5.0


def run(  # noqa: PLR0912, PLR0915 - the loop, inlined on purpose
    bootstrap: str, group: str, readings: str, rollups: str, alerts: str
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    schema = parse_plain(load_schema_file(SCHEMA_DIR / READING_V1_FILE))
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

    def send(topic: str, key: str, record: dict[str, Any]) -> None:
        value = json.dumps(record).encode()
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report)
            except BufferError:
                producer.poll(0.01)
            else:
                return

    # per partition: max ts, and windows[start][(device, sensor)] = [count, min, max, sum]
    max_ts: dict[int, int] = {}
    windows: dict[int, dict[int, dict[tuple[str, str], list[Any]]]] = {}
    raised: set[tuple[str, str]] = set()
    first = True
    next_commit = time.monotonic() + COMMIT_INTERVAL_S
    consumer.subscribe([readings])
    while not stop:
        batch = consumer.consume(num_messages=5_000, timeout=0.1)
        if batch and first:
            first = False
            print(f"first-consumed {time.monotonic()}", flush=True)
        for message in batch:
            if message.error() is not None:
                continue
            body = BytesIO(message.value() or b"")
            body.seek(5)
            r: Any = schemaless_reader(body, schema, None)
            p: int = message.partition() or 0
            device, sensor, ts, value = r["device_id"], r["sensor"], r["ts"], r["value"]
            wins = windows.get(p)
            if wins is None:
                wins = windows[p] = {}
                max_ts[p] = ts
            elif ts > max_ts[p]:
                max_ts[p] = ts
            start = ts - ts % WINDOW_MS
            series = (device, sensor)
            if start + WINDOW_MS > max_ts[p] - LATENESS_MS:
                bucket = wins.get(start)
                if bucket is None:
                    bucket = wins[start] = {}
                w = bucket.get(series)
                if w is None:
                    bucket[series] = [1, value, value, value]
                else:
                    w[0] += 1
                    w[1] = min(w[1], value)
                    w[2] = max(w[2], value)
                    w[3] += value
            if series in raised:
                if value < RAISE_AT:
                    raised.discard(series)
                    send(alerts, device, _alert(device, sensor, False, value, ts))
            elif value > RAISE_AT:
                raised.add(series)
                send(alerts, device, _alert(device, sensor, True, value, ts))
        for p, wins in windows.items():
            watermark = max_ts[p] - LATENESS_MS
            for start in [s for s in wins if s + WINDOW_MS <= watermark]:
                for (device, sensor), (count, lo, hi, total) in wins.pop(start).items():
                    rollup = {"device_id": device, "sensor": sensor, "window_start": start}
                    rollup.update(window_end=start + WINDOW_MS, count=count, min=lo, max=hi)
                    rollup["sum"] = total
                    send(rollups, device, rollup)
        producer.poll(0)
        if time.monotonic() >= next_commit:
            consumer.commit(asynchronous=True)
            next_commit = time.monotonic() + COMMIT_INTERVAL_S
    producer.flush(30)
    consumer.commit(asynchronous=False)
    consumer.close()
    if failed:
        raise SystemExit(f"baseline: {failed} outputs failed to be delivered")


def _alert(device: str, sensor: str, raised: bool, value: float, ts: int) -> dict[str, Any]:
    state = "RAISED" if raised else "CLEARED"
    return {
        "device_id": device,
        "sensor": sensor,
        "rule": rule_name(sensor),
        "state": state,
        "value": value,
        "ts": ts,
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
