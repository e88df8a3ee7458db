"""Randomly mutated readings records, seeded: what a broken or hostile producer could send.

Each record is a valid Confluent-framed SensorReading, then (most of the time) mutated one way:
bit flips, truncation, an oversized record, a wrong magic byte, an unknown schema id, extreme
doubles, huge strings or invalid UTF-8 inside a string.
"""

from __future__ import annotations

import random
import struct
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Producer

from telemetry.codec import Encoder, LocalSchemaSource

MUTATIONS = (
    "none",
    "bit_flips",
    "truncated",
    "oversized",
    "bad_magic",
    "unknown_schema",
    "extreme_double",
    "huge_string",
    "invalid_utf8",
)
OVERSIZED_BYTES = 1_040_000
"""Fits the broker's default message limit, not the producer's: its dead letter must be cut."""


def mutated(count: int, now_ms: int, seed: int = 11) -> Iterator[tuple[str, bytes, bytes]]:
    """``(mutation, key, value)`` for ``count`` records; oversized ones are rare (1 in 2,000)."""
    rng = random.Random(seed)
    encoder = Encoder(LocalSchemaSource().schema_ids)
    for i in range(count):
        device = f"fuzz-{i % 50:02d}"
        reading: dict[str, Any] = {
            "device_id": device,
            "sensor": "temp",
            "ts": now_ms - 60_000 + rng.randrange(60_000),
            "value": rng.uniform(-40.0, 60.0),
            "seq": i,
        }
        kind = "oversized" if i % 2_000 == 1_999 else rng.choice(MUTATIONS[:3] + MUTATIONS[4:])
        if kind == "extreme_double":
            reading["value"] = rng.choice(
                [1e308, -1e308, 1.7976931348623157e308, 5e-324, float("inf"), float("nan")]
            )
        elif kind == "huge_string":
            reading["device_id"] = device + "x" * rng.choice([10_000, 100_000])
        value = encoder.encode(rng.choice((1, 2)), reading)
        if kind == "bit_flips":
            flipped = bytearray(value)
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(len(flipped))
                flipped[at] ^= 1 << rng.randrange(8)
            value = bytes(flipped)
        elif kind == "truncated":
            value = value[: rng.randrange(len(value))]
        elif kind == "oversized":
            value = value + bytes(OVERSIZED_BYTES - len(value))
        elif kind == "bad_magic":
            value = bytes([rng.randrange(1, 256)]) + value[1:]
        elif kind == "unknown_schema":
            value = value[:1] + struct.pack(">I", rng.randrange(1_000, 2**31)) + value[5:]
        elif kind == "invalid_utf8":
            value = value.replace(device.encode(), b"\xff\xfe" + device.encode()[2:], 1)
        yield kind, reading["device_id"].encode()[:100], value


def produce_mutated(bootstrap: str, topic: str, count: int) -> Counter[str]:
    """Produce ``count`` mutated records to ``topic``; how many of each mutation were sent."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000, "linger.ms": 20}
    )
    kinds: Counter[str] = Counter()
    for kind, key, value in mutated(count, int(time.time() * 1000)):
        kinds[kind] += 1
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120):
        raise RuntimeError(f"{topic}: mutated records not delivered")
    return kinds
