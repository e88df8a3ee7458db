"""The generated reader against fastavro: same record whenever it accepts a body, and the
decoder's output (readings and failure reasons) is the same with and without it."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader

from telemetry.codec import DecodeFailure, Encoder, ReadingDecoder
from telemetry.codec import _plan as plan_module
from telemetry.codec._fastread import fast_reader
from telemetry.codec._schemas import (
    READING_V1_FILE,
    READING_V2_FILE,
    SCHEMA_DIR,
    load_schema_file,
    strip_logical_types,
)

from .conftest import V1, V2, reading_v1, reading_v2
from .test_codec_fuzz import _mutate, _seeds

MUTATIONS = 30_000


def _schema(name: str) -> dict[str, Any]:
    schema = load_schema_file(SCHEMA_DIR / name)
    assert isinstance(schema, dict)
    return schema


def _fastavro(value: bytes, schema: dict[str, Any]) -> tuple[Any, int] | None:
    body = BytesIO(value)
    body.seek(5)
    try:
        record = schemaless_reader(body, parse_schema(strip_logical_types(schema)), None)
    except Exception:  # noqa: BLE001 -- any failure: the generated reader must not accept it
        return None
    return record, body.tell()


@pytest.mark.parametrize(("name", "schema_id"), [(READING_V1_FILE, V1), (READING_V2_FILE, V2)])
def test_whatever_it_accepts_fastavro_reads_the_same(
    encoder: Encoder, name: str, schema_id: int
) -> None:
    schema = _schema(name)
    read = fast_reader(schema["fields"], frozenset(), {})
    assert read is not None
    rng = random.Random(7)
    seeds = [s for s in _seeds(encoder) if s[4] == schema_id]
    accepted = 0
    for _ in range(MUTATIONS):
        value = _mutate(rng, rng.choice(seeds))
        try:
            record, end = read(value)
        except Exception:  # noqa: BLE001, S112 -- refused: the decoder asks fastavro instead
            continue
        if end != len(value):
            continue  # the decoder asks fastavro too
        accepted += 1
        assert _fastavro(value, schema) == (record, end), value
    assert accepted > MUTATIONS // 10


def test_valid_records_are_read_exactly(encoder: Encoder) -> None:
    read = fast_reader(_schema(READING_V2_FILE)["fields"], frozenset(), {})
    assert read is not None
    for record in [
        reading_v2(seq=-(2**63), ts=2**63 - 1, value=-0.0, unit="°C", firmware=""),
        reading_v2(device_id="d" * 300, sensor="", battery_level=0.25, unit=None),
        reading_v2(seq=0, ts=-1, value=1e308),
    ]:
        value = encoder.encode(V2, record)
        assert read(value) == (record, len(value))


def test_extra_fields_are_dropped_and_defaults_added(encoder: Encoder) -> None:
    defaults = {"unit": None, "battery_level": None, "firmware": None}
    read = fast_reader(_schema(READING_V1_FILE)["fields"], frozenset({"seq"}), defaults)
    assert read is not None
    record = reading_v1()
    got, _ = read(encoder.encode(V1, record))
    del record["seq"]
    assert got == {**record, **defaults}
    assert list(got) == [*record, *defaults]


@pytest.mark.parametrize(
    "field_type",
    [
        {"type": "array", "items": "long"},
        {"type": "enum", "name": "E", "symbols": ["A"]},
        ["null", "string", "long"],
        {"type": "record", "name": "Inner", "fields": []},
        {"type": "fixed", "name": "F", "size": 4},
    ],
)
def test_nested_or_wide_types_get_no_generated_reader(field_type: object) -> None:
    assert fast_reader([{"name": "x", "type": field_type}], frozenset(), {}) is None


def test_mutable_defaults_get_no_generated_reader() -> None:
    assert fast_reader([{"name": "x", "type": "long"}], frozenset(), {"tags": []}) is None


def test_the_decoder_gives_the_same_readings_and_reasons_without_it(
    encoder: Encoder,
    decoder_factory: Callable[..., ReadingDecoder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    seeds = _seeds(encoder)
    batch = [_mutate(rng, rng.choice(seeds)) for _ in range(MUTATIONS)] + seeds
    fast = decoder_factory().decode_batch(batch)
    monkeypatch.setattr(plan_module, "fast_reader", lambda *_: None)
    slow = decoder_factory().decode_batch(batch)
    assert fast[0] == slow[0]
    assert [_comparable(f) for f in fast[1]] == [_comparable(f) for f in slow[1]]
    assert len(fast[0]) > MUTATIONS // 10


def _comparable(failure: DecodeFailure) -> DecodeFailure:
    # fastavro's messages name its file object by address
    return failure._replace(message=re.sub(r" at 0x[0-9a-f]+", "", failure.message))
