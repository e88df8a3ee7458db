"""The generated writer against fastavro: the same bytes for every record it takes, and the
encoder's answer (bytes or CodecError) is the same whichever writer ran."""

from __future__ import annotations

import math
import random
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer

from telemetry.codec import Encoder
from telemetry.codec._fastwrite import fast_writer, long_bytes
from telemetry.codec._schemas import (
    ALERT_FILE,
    READING_V2_FILE,
    ROLLUP_FILE,
    SCHEMA_DIR,
    load_schema_file,
    parse_plain,
)
from telemetry.errors import CodecError

HEADER = b"\x00\x00\x00\x00\x07"
RECORDS = 3_000
_ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    1.5,
    float("inf"),
    float("nan"),
    "",
    "é",
    "x" * 200,
    b"raw",
    [],
    {},
    "RAISED",
    "TUMBLING",
    "\ud800",
]


def _schema(name: str) -> dict[str, Any]:
    schema = load_schema_file(SCHEMA_DIR / name)
    assert isinstance(schema, dict)
    return schema


def _fastavro(schema: dict[str, Any], record: dict[str, Any]) -> bytes | None:
    out = BytesIO()
    out.write(HEADER)
    try:
        schemaless_writer(out, parse_plain(schema), dict(record))
    except Exception:  # noqa: BLE001 -- any failure: the generated writer must not write it
        return None
    return out.getvalue()


def _typical(rng: random.Random, field_type: Any) -> Any:
    if isinstance(field_type, list):
        other = next(t for t in field_type if t != "null")
        return None if rng.random() < 0.3 else _typical(rng, other)
    if isinstance(field_type, dict):
        if field_type["type"] == "enum":
            return rng.choice(field_type["symbols"])
        field_type = field_type["type"]
    if field_type == "string":
        return "".join(rng.choice("abcé-0") for _ in range(rng.randrange(0, 80)))
    if field_type == "long":
        return rng.choice(
            [0, 1, -1, 63, 64, -65, 2**40 + 3, -(2**62), rng.randrange(-(10**13), 10**13)]
        )
    if field_type in {"double", "float"}:
        return rng.choice([0.0, -0.0, 1e-300, 1e300, rng.gauss(0, 1e6), math.pi])
    raise AssertionError(field_type)


def _records(schema: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for n in range(RECORDS):
        record = {f["name"]: _typical(rng, f["type"]) for f in schema["fields"]}
        if n % 3 == 0:  # one field of an odd type or value, or missing
            name = rng.choice(schema["fields"])["name"]
            if rng.random() < 0.1:
                del record[name]
            else:
                record[name] = rng.choice(_ODD_VALUES)
        records.append(record)
    return records


@pytest.mark.parametrize("name", [ROLLUP_FILE, ALERT_FILE, READING_V2_FILE])
def test_whatever_it_writes_fastavro_writes_the_same(name: str) -> None:
    schema = _schema(name)
    write = fast_writer(HEADER, schema)
    assert write is not None
    taken = 0
    for record in _records(schema, seed=len(name)):
        try:
            value = write(record)
        except Exception:  # noqa: BLE001, S112 -- refused: fastavro decides, checked below
            continue
        taken += 1
        assert value == _fastavro(schema, record), record
    assert taken > RECORDS // 2  # the typical records all go the fast way


@pytest.mark.parametrize("name", [ROLLUP_FILE, ALERT_FILE, READING_V2_FILE])
def test_the_encoder_answers_as_fastavro_does(name: str) -> None:
    schema = _schema(name)
    encoder = Encoder({7: schema})
    for record in _records(schema, seed=99):
        expected = _fastavro(schema, record)
        if expected is None:
            with pytest.raises(CodecError):
                encoder.encode(7, record)
        else:
            assert encoder.encode(7, record) == expected


def test_long_bytes_is_avro_zigzag() -> None:
    assert long_bytes(0) == b"\x00"
    assert long_bytes(-1) == b"\x01"
    assert long_bytes(1) == b"\x02"
    assert long_bytes(-64) == b"\x7f"
    assert long_bytes(64) == b"\x80\x01"
    assert long_bytes(2**63 - 1) == b"\xfe" + b"\xff" * 8 + b"\x01"
    with pytest.raises(OverflowError):
        long_bytes(2**63)


def test_schemas_it_does_not_handle_get_no_writer() -> None:
    nested = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": {"type": "array", "items": "long"}}],
    }
    assert fast_writer(HEADER, nested) is None
    assert (
        fast_writer(
            HEADER, {"type": "record", "name": "I", "fields": [{"name": "i", "type": "int"}]}
        )
        is None
    )
    assert fast_writer(HEADER, {"type": "enum", "name": "E", "symbols": ["A"]}) is None
    encoder = Encoder({7: nested})
    assert encoder.encode(7, {"a": [1, 2]}) == HEADER + b"\x04\x02\x04\x00"
