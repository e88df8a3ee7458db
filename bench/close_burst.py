"""Cost of a window-close burst: 10,000 series' windows ending at the same instant.

Run: ``PYTHONPATH=. .venv/bin/python bench/close_burst.py [--budget N]``. One process, no broker:
the aggregation stage (windows, the W1 threshold rules, Avro encoding of the rollups) opens one
10 s window per series, then readings past the window's end arrive in batches of 100. Prints the
total time and the longest single ``process`` call: with a budget, the burst is spread over calls
and no call (so no alert behind it) waits for all 10,000 rollups.
"""

from __future__ import annotations

import argparse
import random
import time

from prometheus_client import CollectorRegistry

from bench.w1 import DEVICE_IDS, RAISE_AT, SENSORS, T0, WINDOW_MS, rule_name
from telemetry.aggregate import Aggregate, Aggregator
from telemetry.aggregate._aggregator import CLOSE_BUDGET
from telemetry.codec import LocalSchemaSource, Reading, output_encoder
from telemetry.decode import DecodeEvent, ReadingEvent
from telemetry.kafka import PartitionOffsets
from telemetry.rules import ThresholdRule
from telemetry.windows import Tumbling

SERIES = 10_000
PARTITIONS = 8
BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=CLOSE_BUDGET)
    args = parser.parse_args()
    encoder, ids = output_encoder(LocalSchemaSource(), rollups_topic="r", alerts_topic="a")
    rules = tuple(
        ThresholdRule(name=rule_name(s), sensor=s, raise_at=RAISE_AT, clear_at=RAISE_AT)
        for s in SENSORS
    )
    aggregator = Aggregator(
        windows=(Tumbling(size_ms=WINDOW_MS),),
        rules=rules,
        allowed_lateness_ms=1000,
        idle_timeout=3600,
        close_budget=args.budget,
    )
    stage = Aggregate(
        aggregator=aggregator,
        encoder=encoder,
        rollup_schema_id=ids.rollup,
        alert_schema_id=ids.alert,
        reading_schema_id=ids.rollup,
        rollups_topic="r",
        alerts_topic="a",
        late_topic=None,
        registry=CollectorRegistry(),
    )
    trackers = [PartitionOffsets("readings", p) for p in range(PARTITIONS)]
    stage.assigned(trackers)
    rng = random.Random(1)
    offsets = [0] * PARTITIONS

    def event(series: int, ts: int) -> ReadingEvent:
        device = series >> 1
        tracker = trackers[device % PARTITIONS]
        offset = offsets[tracker.partition] = offsets[tracker.partition] + 1
        tracker.held[offset] = 1
        reading: Reading = {
            "device_id": DEVICE_IDS[device],
            "sensor": SENSORS[series & 1],
            "ts": ts,
            "value": rng.gauss(50.0, 10.0),
            "seq": offset,
            "unit": None,
            "battery_level": None,
            "firmware": None,
        }
        return ReadingEvent(reading, tracker, offset)

    def partition_of(event: ReadingEvent) -> int:
        return event[0].partition

    def by_partition(events: list[ReadingEvent]) -> list[DecodeEvent]:
        return [*sorted(events, key=partition_of)]  # the aggregator takes runs per partition

    stage.process(by_partition([event(s, T0 + 1_000) for s in range(SERIES)]))
    total = worst = 0.0
    rollups = calls = 0
    while rollups < SERIES:
        batch = by_partition(
            [event(rng.randrange(SERIES), T0 + WINDOW_MS + 1_001) for _ in range(BATCH)]
        )
        started = time.perf_counter()
        rollups += sum(out.topic == "r" for out in stage.process(batch))
        elapsed = time.perf_counter() - started
        total += elapsed
        worst = max(worst, elapsed)
        calls += 1
    print(
        f"budget {args.budget}: {rollups:,} rollups over {calls} calls of {BATCH} readings;"
        f" total {total * 1000:.0f} ms, longest call {worst * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
