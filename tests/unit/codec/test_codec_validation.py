"""Every dead-letter reason, each triggered by a crafted input."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from telemetry.codec import (
    AvroSchema,
    DecodeFailure,
    Encoder,
    LocalSchemaSource,
    ReadingDecoder,
    Reason,
)
from telemetry.codec._framing import frame_header

from .conftest import NOW_MS, ROLLUP, V1, V2, DictSource, reading_v1, reading_v2

DAY_MS = 86_400_000
ROLLUP_BYTES = frame_header(ROLLUP) + b"\x00"


def _writer(**types: Any) -> dict[str, Any]:
    """The v1 reading schema with some field types replaced (None drops the field)."""
    schema = copy.deepcopy(LocalSchemaSource().schema_ids[V1])
    assert isinstance(schema, dict)
    fields = []
    for field in schema["fields"]:
        if field["name"] in types:
            if types[field["name"]] is None:
                continue
            field["type"] = types[field["name"]]
        fields.append(field)
    schema["fields"] = fields
    return schema


def _one(decoder: ReadingDecoder, value: bytes | None) -> DecodeFailure:
    decoded, failures = decoder.decode_batch([value])
    assert decoded == []
    assert len(failures) == 1
    return failures[0]


def test_bad_magic(encoder: Encoder, decoder: ReadingDecoder) -> None:
    value = b"\x01" + encoder.encode(V1, reading_v1())[1:]
    assert _one(decoder, value)[1:] == (Reason.BAD_MAGIC, "magic byte 0x01", None)


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00\x00\x00\x01", None])
def test_too_short(decoder: ReadingDecoder, value: bytes | None) -> None:
    failure = _one(decoder, value)
    assert (failure.reason, failure.schema_id) == (Reason.TOO_SHORT, None)


def test_unknown_schema(encoder: Encoder, decoder: ReadingDecoder) -> None:
    value = frame_header(77) + encoder.encode(V1, reading_v1())[5:]
    assert _one(decoder, value)[1::2] == (Reason.UNKNOWN_SCHEMA, 77)


def test_unknown_ids_are_asked_again_only_after_the_retry_interval(
    encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder]
) -> None:
    clock = [0.0]
    source = DictSource({})
    decoder = decoder_factory(source, monotonic=lambda: clock[0], unknown_retry=30.0)
    value = frame_header(V1) + encoder.encode(V1, reading_v1())[5:]
    assert _one(decoder, value).reason == Reason.UNKNOWN_SCHEMA
    assert _one(decoder, value).reason == Reason.UNKNOWN_SCHEMA
    assert source.lookups == 1
    source.schemas[V1] = LocalSchemaSource().schema_ids[V1]
    clock[0] = 31.0
    assert decoder.decode_batch([value])[1] == []
    assert decoder.decode_batch([value] * 3)[1] == []
    assert source.lookups == 2


@pytest.mark.parametrize("cut", [1, 3, 9, 12, 30])
def test_truncated(encoder: Encoder, decoder: ReadingDecoder, cut: int) -> None:
    value = encoder.encode(V1, reading_v1())
    assert _one(decoder, value[:-cut])[1::2] == (Reason.TRUNCATED, V1)


def test_header_only_is_truncated(decoder: ReadingDecoder) -> None:
    assert _one(decoder, frame_header(V2)).reason == Reason.TRUNCATED


def test_trailing_bytes(encoder: Encoder, decoder: ReadingDecoder) -> None:
    value = encoder.encode(V2, reading_v2()) + b"\x00\x01"
    failure = _one(decoder, value)
    assert failure[1::2] == (Reason.TRAILING_BYTES, V2)
    assert failure.message.startswith("2 bytes after the record")


def test_schema_mismatch_other_record(decoder: ReadingDecoder) -> None:
    failure = _one(decoder, ROLLUP_BYTES)
    assert failure[1::2] == (Reason.SCHEMA_MISMATCH, ROLLUP)
    assert "iot.telemetry.Rollup" in failure.message


@pytest.mark.parametrize(
    "writer",
    [
        "string",
        {"type": "array", "items": "long"},
        _writer(value="string"),
        {"type": "record", "name": "iot.telemetry.SensorReading", "fields": [{"name": "x"}]},
    ],
    ids=["primitive", "array", "incompatible-field", "unparsable"],
)
def test_schema_mismatch_incompatible_writer(
    decoder_factory: Callable[..., ReadingDecoder], writer: AvroSchema
) -> None:
    decoder = decoder_factory(DictSource({9: writer}))
    body = Encoder({9: _writer(value="string")}).encode(9, reading_v1(value="x"))[5:]
    assert _one(decoder, frame_header(9) + body)[1::2] == (Reason.SCHEMA_MISMATCH, 9)


def test_schema_mismatch_corrupt_body(encoder: Encoder, decoder: ReadingDecoder) -> None:
    value = encoder.encode(V1, reading_v1(device_id="abc"))
    corrupt = value[:6] + b"\xff\xfe" + value[8:]  # invalid UTF-8 in device_id
    assert _one(decoder, corrupt)[1::2] == (Reason.SCHEMA_MISMATCH, V1)


def test_schema_mismatch_bad_union_index(encoder: Encoder, decoder: ReadingDecoder) -> None:
    value = encoder.encode(V2, reading_v2(unit=None, battery_level=None, firmware=None))
    corrupt = value[:-3] + b"\x08" + value[-2:]  # union branch 4 of ["null", "string"]
    assert _one(decoder, corrupt)[1::2] == (Reason.SCHEMA_MISMATCH, V2)


def test_missing_value_null(decoder_factory: Callable[..., ReadingDecoder]) -> None:
    writer = _writer(value=["null", "double"], sensor=["string", "null"])
    decoder = decoder_factory(DictSource({9: writer}))
    encoder = Encoder({9: writer})
    values = [
        encoder.encode(9, reading_v1(value=None)),
        encoder.encode(9, reading_v1(sensor=None)),
        encoder.encode(9, reading_v1()),
    ]
    decoded, failures = decoder.decode_batch(values)
    assert [f[:2] for f in failures] == [(0, Reason.MISSING_VALUE), (1, Reason.MISSING_VALUE)]
    assert decoded == [{**reading_v1(), "unit": None, "battery_level": None, "firmware": None}]


def test_missing_value_absent_field(decoder_factory: Callable[..., ReadingDecoder]) -> None:
    writer = _writer(seq=None)
    decoder = decoder_factory(DictSource({9: writer}))
    record = {k: v for k, v in reading_v1().items() if k != "seq"}
    failure = _one(decoder, Encoder({9: writer}).encode(9, record))
    assert failure[1::2] == (Reason.MISSING_VALUE, 9)
    assert "seq" in failure.message


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite(encoder: Encoder, decoder: ReadingDecoder, number: float) -> None:
    for schema_id, record in ((V1, reading_v1(value=number)), (V2, reading_v2(value=number))):
        assert _one(decoder, encoder.encode(schema_id, record))[1::2] == (
            Reason.NON_FINITE,
            schema_id,
        )


@pytest.mark.parametrize(
    ("offset_ms", "want"),
    [
        (5 * 60_000, None),
        (5 * 60_000 + 1, Reason.FUTURE_TIMESTAMP),
        (6 * DAY_MS, Reason.FUTURE_TIMESTAMP),  # the skewed device clock of issue 14
        (-3650 * DAY_MS, None),
        (-3650 * DAY_MS - 1, Reason.BAD_TIMESTAMP),
        (2**62, Reason.FUTURE_TIMESTAMP),
        (-NOW_MS - 2**62, Reason.BAD_TIMESTAMP),
    ],
)
def test_bad_timestamp_default_bounds(
    encoder: Encoder, decoder: ReadingDecoder, offset_ms: int, want: Reason | None
) -> None:
    decoded, failures = decoder.decode_batch(
        [encoder.encode(V1, reading_v1(ts=NOW_MS + offset_ms))]
    )
    if want is None:
        assert (len(decoded), failures) == (1, [])
    else:
        assert [f.reason for f in failures] == [want]


def test_bad_timestamp_bounds_are_configurable(
    encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder]
) -> None:
    decoder = decoder_factory(max_future=timedelta(seconds=1), max_past=timedelta(hours=1))
    values = [
        encoder.encode(V1, reading_v1(ts=NOW_MS + 2_000)),
        encoder.encode(V1, reading_v1(ts=NOW_MS - 3_600_001)),
        encoder.encode(V1, reading_v1(ts=NOW_MS - 3_600_000)),
    ]
    decoded, failures = decoder.decode_batch(values)
    assert [f[:2] for f in failures] == [(0, Reason.FUTURE_TIMESTAMP), (1, Reason.BAD_TIMESTAMP)]
    assert len(decoded) == 1


def test_promoted_types_are_resolved(decoder_factory: Callable[..., ReadingDecoder]) -> None:
    writer = _writer(value="float", seq="int")
    decoder = decoder_factory(DictSource({9: writer}))
    decoded, failures = decoder.decode_batch([Encoder({9: writer}).encode(9, reading_v1(seq=3))])
    assert failures == []
    assert decoded == [{**reading_v1(seq=3), "unit": None, "battery_level": None, "firmware": None}]
    assert isinstance(decoded[0]["value"], float)


def test_schemas_are_resolved_once_per_id(
    encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder]
) -> None:
    source = DictSource(LocalSchemaSource().schema_ids)
    decoder = decoder_factory(source)
    values = [encoder.encode(V1, reading_v1()), encoder.encode(V2, reading_v2())] * 50
    for _ in range(3):
        assert len(decoder.decode_batch(values)[0]) == 100
    assert source.lookups == 2


def test_failures_and_readings_keep_positions(encoder: Encoder, decoder: ReadingDecoder) -> None:
    good = encoder.encode(V1, reading_v1())
    values = [good, b"", good, b"\x07" + good[1:], good]
    decoded, failures = decoder.decode_batch(values)
    assert len(decoded) == 3
    assert [(f.position, f.reason) for f in failures] == [
        (1, Reason.TOO_SHORT),
        (3, Reason.BAD_MAGIC),
    ]


def test_reader_schema_must_have_numeric_value_and_long_ts() -> None:
    with pytest.raises(ValueError, match="reader schema"):
        ReadingDecoder(LocalSchemaSource(), reader_schema=_writer(value="string"))
