"""Decode throughput of ``ReadingDecoder.decode_batch`` against bare fastavro loops.

Run: ``PYTHONPATH=. python bench/codec_bench.py [--records N] [--batch B]``. One core, one
process; every variant decodes the same framed v1 SensorReading records (Confluent framing).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader

from telemetry.codec import SCHEMA_DIR, Encoder, LocalSchemaSource, ReadingDecoder, load_schema_file
from telemetry.codec._schemas import READING_V1_FILE, READING_V2_FILE, parse_plain


def make_records(count: int, now_ms: int) -> list[bytes]:
    """``count`` framed v1 readings from 1,000 devices with varied values."""
    rng = random.Random(7)
    encoder = Encoder(LocalSchemaSource().schema_ids)
    template = [
        encoder.encode(
            1,
            {
                "device_id": f"device-{i % 1000:05d}",
                "sensor": ("temperature", "humidity", "pressure")[i % 3],
                "ts": now_ms - rng.randrange(3_600_000),
                "value": rng.uniform(-40.0, 120.0),
                "seq": i,
            },
        )
        for i in range(10_000)
    ]
    return [template[i % len(template)] for i in range(count)]


def bare_loop(values: list[bytes], writer: Any, reader: Any) -> int:
    """The floor: BytesIO, skip the header, schemaless_reader; no checks at all."""
    out: list[Any] = []
    append = out.append
    for value in values:
        body = BytesIO(value)
        body.seek(5)
        append(schemaless_reader(body, writer, reader))
    return len(out)


def measure(
    variants: list[tuple[str, Callable[[], int]]], count: int, rounds: int
) -> dict[str, float]:
    """Best rate per variant over ``rounds`` interleaved runs, by process CPU time.

    CPU time rather than wall time, and interleaving, keep other load on the machine from
    favouring whichever variant happened to run in a quiet moment.
    """
    best = {label: float("inf") for label, _ in variants}
    for _ in range(rounds):
        for label, run in variants:
            start = time.process_time()
            produced = run()
            best[label] = min(best[label], time.process_time() - start)
            assert produced == count, (label, produced)  # noqa: S101 -- harness sanity
    rates = {label: count / seconds for label, seconds in best.items()}
    for label, rate in rates.items():
        print(f"{label:<58} {rate:>12,.0f} records/s")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    now_ms = int(time.time() * 1000)
    values = make_records(args.records, now_ms)
    v1 = parse_schema(load_schema_file(SCHEMA_DIR / READING_V1_FILE))
    v1_plain = parse_plain(load_schema_file(SCHEMA_DIR / READING_V1_FILE))
    v2 = parse_schema(load_schema_file(SCHEMA_DIR / READING_V2_FILE))
    decoder = ReadingDecoder(LocalSchemaSource())
    batches = [values[i : i + args.batch] for i in range(0, len(values), args.batch)]

    def run_decoder() -> int:
        total = 0
        for batch in batches:
            decoded, failures = decoder.decode_batch(batch)
            assert not failures, failures[:3]  # noqa: S101 -- the workload is all valid
            total += len(decoded)
        return total

    print(f"{args.records:,} framed v1 records, batches of {args.batch}, best of {args.rounds}")
    bare, resolved, floor, ours = (
        "bare schemaless_reader(v1 writer)",
        "bare schemaless_reader(v1 writer, v2 reader)",
        "bare schemaless_reader(v1 writer, logical types stripped)",
        "ReadingDecoder.decode_batch (v1 -> v2 shape, validated)",
    )
    rates = measure(
        [
            (bare, lambda: bare_loop(values, v1, None)),
            (resolved, lambda: bare_loop(values, v1, v2)),
            (floor, lambda: bare_loop(values, v1_plain, None)),
            (ours, run_decoder),
        ],
        args.records,
        args.rounds,
    )
    print(f"decode_batch / bare(v1 writer)                   = {rates[ours] / rates[bare]:.2f}")
    print(f"decode_batch / bare(v1 writer, v2 reader)        = {rates[ours] / rates[resolved]:.2f}")
    print(f"decode_batch / bare(v1 writer, stripped: floor)  = {rates[ours] / rates[floor]:.2f}")


if __name__ == "__main__":
    main()
