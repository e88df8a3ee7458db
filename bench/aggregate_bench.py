"""Aggregation throughput: the Aggregator stage against a plain dict-based tumbling loop.

Run: ``PYTHONPATH=. .venv/bin/python bench/aggregate_bench.py [--events N] [--batch B]``.
One core, one process, CPU time. Workload: 1,000 devices x 3 sensors, one reading per key every
15 s of event time (about 80 min in all for 1,000,000 events), timestamps jittered by up to 2 s
(out of order within the 5 s allowed lateness). Variants, over the same events:

- ``baseline``: a plain loop, one 10 s tumbling window, dict of [count, min, max, sum, sumsq]
- ``aggregator``: 10 s, 1 min and 1 h tumbling windows and 4 rules (high and low thresholds,
  rate of change, silent device), no percentiles
- ``aggregator+p``: the same with percentiles (DDSketch) on the 10 s windows
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from telemetry.aggregate import Aggregator, Event
from telemetry.codec import Reading
from telemetry.rules import RateOfChangeRule, Rule, SilentRule, ThresholdRule
from telemetry.windows import Tumbling

SENSORS = ("temperature", "humidity", "pressure")
BASE = {"temperature": 20.0, "humidity": 50.0, "pressure": 1000.0}


def make_events(count: int) -> list[Event]:
    rng = random.Random(11)
    keys = [(f"device-{d:05d}", s) for d in range(1000) for s in SENSORS]
    t0 = 1_700_000_000_000
    step = 5_000 / len(keys)
    events: list[Event] = []
    for i in range(count):
        device, sensor = keys[i % len(keys)]
        ts = t0 + int(i * step) - rng.randrange(2000)
        value = BASE[sensor] + rng.gauss(0.0, 5.0)
        if rng.random() < 0.001:
            value += 60.0
        reading: Reading = {
            "device_id": device,
            "sensor": sensor,
            "ts": ts,
            "value": value,
            "seq": i,
            "unit": None,
            "battery_level": None,
            "firmware": None,
        }
        events.append((0, i, reading))
    return events


def baseline(events: list[Event], batch: int) -> int:
    size = 10_000
    windows: dict[tuple[str, str, int], list[float]] = {}
    for b in range(0, len(events), batch):
        for _, _, r in events[b : b + batch]:
            v = r["value"]
            k = (r["device_id"], r["sensor"], r["ts"] // size)
            w = windows.get(k)
            if w is None:
                windows[k] = [1, v, v, v, v * v]
            else:
                w[0] += 1
                if v < w[1]:
                    w[1] = v
                elif v > w[2]:
                    w[2] = v
                w[3] += v
                w[4] += v * v
    return len(windows)


def aggregator(events: list[Event], batch: int, *, percentiles: bool) -> int:
    rules: list[Rule] = [
        ThresholdRule(name="temp-high", sensor="temperature", raise_at=60.0, clear_at=50.0),
        ThresholdRule(
            name="temp-low", sensor="temperature", raise_at=-10.0, clear_at=0.0, direction="below"
        ),
        RateOfChangeRule(name="humidity-jump", sensor="humidity", limit_per_s=2.0, span_ms=60_000),
        SilentRule(name="silent", sensor="pressure", after_ms=120_000),
    ]
    stage = Aggregator(
        windows=[Tumbling(10_000, percentiles=percentiles), Tumbling(60_000), Tumbling(3_600_000)],
        rules=rules,
        allowed_lateness_ms=5_000,
        idle_timeout=30.0,
        clock=lambda: 0.0,
    )
    stage.open_partition(0)
    emitted = 0
    for b in range(0, len(events), batch):
        emitted += len(stage.process(events[b : b + batch]))
    emitted += len(stage.on_tick(1e9))  # the idle clock closes the rest
    return emitted


def timed(label: str, fn: Any, n: int) -> float:
    start = time.process_time()
    out = fn()
    cpu = time.process_time() - start
    print(f"{label:14s} {n / cpu:>12,.0f} events/s  ({cpu:.2f} s CPU, {out:,} outputs)")
    return n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    events = make_events(args.events)
    n = len(events)
    base = timed("baseline", lambda: baseline(events, args.batch), n)
    agg = timed("aggregator", lambda: aggregator(events, args.batch, percentiles=False), n)
    aggp = timed("aggregator+p", lambda: aggregator(events, args.batch, percentiles=True), n)
    print(f"aggregator / baseline: {agg / base:.2f}; with percentiles: {aggp / base:.2f}")


if __name__ == "__main__":
    main()
