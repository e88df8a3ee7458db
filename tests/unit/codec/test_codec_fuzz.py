"""Fuzzing decode_batch: nothing escapes, and every input is decoded or given a known reason.

A seeded loop feeds 100,000 mutations of valid records (bit flips, truncation, appended,
inserted and overwritten bytes, random schema ids, random bytes); hypothesis adds a few hundred
shrinkable cases on top.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry.codec import Encoder, Reading, ReadingDecoder, Reason

from .conftest import NOW_MS, V1, V2, reading_v1, reading_v2

REASONS = frozenset(Reason)
FUZZ_INPUTS = 100_000
BATCH = 1_000


def _seeds(encoder: Encoder) -> list[bytes]:
    rng = random.Random(1)
    seeds = []
    for i in range(50):
        v1 = reading_v1(device_id=f"d{i}" * (i % 7), seq=rng.randrange(-(2**40), 2**40))
        v2 = reading_v2(
            sensor="s" * (i % 40),
            value=rng.uniform(-1e9, 1e9),
            unit=None if i % 3 else "%",
            firmware=None if i % 2 else "9.9",
            battery_level=None if i % 5 == 0 else 0.5,
        )
        seeds += [encoder.encode(V1, v1), encoder.encode(V2, v2)]
    return seeds


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    kind = rng.randrange(8)
    if kind == 0:  # flip a few bits
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        del data[rng.randrange(len(data)) :]
    elif kind == 2:  # append
        data += rng.randbytes(rng.randint(1, 8))
    elif kind == 3:  # insert
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(rng.randint(1, 4))
    elif kind == 4:  # overwrite a run in the body
        at = rng.randrange(5, len(data))
        run = rng.randbytes(rng.randint(1, 6))
        data[at : at + len(run)] = run
    elif kind == 5:  # another schema id, sometimes a known one
        data[1:5] = rng.choice([b"\x00\x00\x00\x01", b"\x00\x00\x00\x03", rng.randbytes(4)])
    elif kind == 6:  # random bytes, often framed
        data = bytearray(rng.randbytes(rng.randint(0, 48)))
        if rng.random() < 0.7:
            data[:5] = b"\x00\x00\x00\x00" + bytes([rng.choice((1, 2))])
    else:  # drop one byte
        del data[rng.randrange(len(data))]
    return bytes(data)


def _check(
    decoder: ReadingDecoder, encoder: Encoder, values: list[bytes]
) -> tuple[int, dict[str, int]]:
    decoded, failures = decoder.decode_batch(values)
    assert len(decoded) + len(failures) == len(values)
    assert len({f.position for f in failures}) == len(failures)
    counts: dict[str, int] = {}
    for failure in failures:
        assert failure.reason in REASONS, failure
        assert 0 <= failure.position < len(values)
        counts[failure.reason] = counts.get(failure.reason, 0) + 1
    if decoded:
        _assert_valid(decoder, encoder, decoded)
    return len(decoded), counts


def _assert_valid(decoder: ReadingDecoder, encoder: Encoder, decoded: list[Reading]) -> None:
    for reading in decoded:
        assert math.isfinite(reading["value"])
        assert abs(reading["ts"] - NOW_MS) <= 3650 * 86_400_000
    again, failures = decoder.decode_batch([encoder.encode(V2, dict(r)) for r in decoded])
    assert failures == []
    assert again == decoded


def test_seeded_mutations(encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder]) -> None:
    rng = random.Random(20240601)
    seeds = _seeds(encoder)
    decoder = decoder_factory()
    total_decoded = 0
    reasons: dict[str, int] = {}
    for _ in range(FUZZ_INPUTS // BATCH):
        batch = [_mutate(rng, rng.choice(seeds)) for _ in range(BATCH)]
        ok, counts = _check(decoder, encoder, batch)
        total_decoded += ok
        for reason, count in counts.items():
            reasons[reason] = reasons.get(reason, 0) + count
    assert total_decoded + sum(reasons.values()) == FUZZ_INPUTS
    # The mutations reach most of the reasons; the rest have dedicated tests.
    assert set(reasons) >= {
        Reason.BAD_MAGIC,
        Reason.TOO_SHORT,
        Reason.UNKNOWN_SCHEMA,
        Reason.TRUNCATED,
        Reason.TRAILING_BYTES,
        Reason.SCHEMA_MISMATCH,
        Reason.BAD_TIMESTAMP,
    }, reasons
    assert total_decoded > 0


_FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_FUZZ_SETTINGS
@given(values=st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes(
    encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder], values: list[bytes]
) -> None:
    _check(decoder_factory(), encoder, values)


@_FUZZ_SETTINGS
@given(
    record=st.fixed_dictionaries(
        {
            "device_id": st.text(max_size=12),
            "sensor": st.text(max_size=12),
            "ts": st.integers(-(2**63), 2**63 - 1),
            "value": st.floats(),
            "seq": st.integers(-(2**63), 2**63 - 1),
            "unit": st.none() | st.text(max_size=5),
            "battery_level": st.none() | st.floats(width=32),
            "firmware": st.none() | st.text(max_size=5),
        }
    ),
    schema_id=st.sampled_from([V1, V2]),
    damage=st.tuples(st.integers(0, 80), st.binary(max_size=4)),
)
def test_mutated_records(
    encoder: Encoder,
    decoder_factory: Callable[..., ReadingDecoder],
    record: dict[str, Any],
    schema_id: int,
    damage: tuple[int, bytes],
) -> None:
    cut, tail = damage
    value = encoder.encode(schema_id, record)
    _check(decoder_factory(), encoder, [value, value[: len(value) - cut] + tail])
