"""Encode/decode round trips for every schema, schema evolution, local and registry sources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from telemetry.codec import (
    SCHEMA_DIR,
    Encoder,
    LocalSchemaSource,
    ReadingDecoder,
    RecordDecoder,
    RegistrySchemaSource,
    load_schema_file,
    output_encoder,
)
from telemetry.codec._encoder import ENCODE_ERROR
from telemetry.codec._framing import frame_header, split_header
from telemetry.codec._schemas import READING_V1_FILE
from telemetry.errors import CodecError, SchemaSourceError

from .conftest import ALERT, NOW_MS, ROLLUP, V1, V2, reading_v1, reading_v2

ROLLUP_RECORD: dict[str, Any] = {
    "device_id": "device-00042",
    "sensor": "temperature",
    "window_start": NOW_MS - 60_000,
    "window_size_ms": 60_000,
    "window_kind": "TUMBLING",
    "window_end": NOW_MS,
    "count": 3,
    "min": 1.0,
    "max": 3.0,
    "sum": 6.0,
    "mean": 2.0,
    "stddev": 0.816496580927726,
    "first": 1.0,
    "last": 3.0,
    "p50": 2.0,
    "p95": None,
    "p99": None,
}
ALERT_RECORD: dict[str, Any] = {
    "device_id": "device-00042",
    "sensor": "temperature",
    "rule": "temperature-high",
    "state": "RAISED",
    "severity": "CRITICAL",
    "value": 91.5,
    "ts": NOW_MS,
    "message": "temperature 91.5 above 90.0",
}


def test_framing_header_layout(encoder: Encoder) -> None:
    value = encoder.encode(V2, reading_v2())
    assert value[:5] == b"\x00\x00\x00\x00\x02" == frame_header(V2)
    schema_id, body = split_header(value)
    assert (schema_id, bytes(body)) == (V2, value[5:])


@pytest.mark.parametrize(
    ("schema_id", "record"),
    [(V1, reading_v1()), (V2, reading_v2()), (ROLLUP, ROLLUP_RECORD), (ALERT, ALERT_RECORD)],
    ids=["reading-v1", "reading-v2", "rollup", "alert"],
)
def test_every_schema_round_trips(
    encoder: Encoder, local_source: LocalSchemaSource, schema_id: int, record: dict[str, Any]
) -> None:
    assert RecordDecoder(local_source).decode(encoder.encode(schema_id, record)) == (
        schema_id,
        record,
    )


def test_v1_writer_reads_as_v2_with_defaults(encoder: Encoder, decoder: ReadingDecoder) -> None:
    decoded, failures = decoder.decode_batch([encoder.encode(V1, reading_v1())])
    assert failures == []
    assert decoded == [{**reading_v1(), "unit": None, "battery_level": None, "firmware": None}]


def test_v2_writer_reads_as_v2(encoder: Encoder, decoder: ReadingDecoder) -> None:
    decoded, failures = decoder.decode_batch([encoder.encode(V2, reading_v2())])
    assert (decoded, failures) == ([reading_v2()], [])


def test_v2_writer_reads_in_v1_shape(
    encoder: Encoder, decoder_factory: Callable[..., ReadingDecoder]
) -> None:
    v1_reader = decoder_factory(reader_schema=load_schema_file(SCHEMA_DIR / READING_V1_FILE))
    values = [encoder.encode(V2, reading_v2()), encoder.encode(V1, reading_v1())]
    assert v1_reader.decode_batch(values) == ([reading_v1(), reading_v1()], [])


def test_mixed_batch_keeps_input_order(encoder: Encoder, decoder: ReadingDecoder) -> None:
    values = [encoder.encode(V1 + i % 2, reading_v2(seq=i)) for i in range(10)]
    decoded, failures = decoder.decode_batch(values)
    assert failures == []
    assert [reading["seq"] for reading in decoded] == list(range(10))
    assert [reading["unit"] for reading in decoded] == [None, "Cel"] * 5


def test_encoder_rejects_bad_records_and_unknown_ids(encoder: Encoder) -> None:
    with pytest.raises(CodecError) as unknown:
        encoder.encode(99, reading_v1())
    with pytest.raises(CodecError) as unfit:
        encoder.encode(ALERT, {**ALERT_RECORD, "state": "MAYBE"})
    assert unknown.value.reason == unfit.value.reason == ENCODE_ERROR


def test_local_output_encoder_uses_local_ids(local_source: LocalSchemaSource) -> None:
    encoder, ids = output_encoder(
        local_source, rollups_topic="telemetry.rollups", alerts_topic="telemetry.alerts"
    )
    assert (ids.rollup, ids.alert) == (ROLLUP, ALERT)
    assert encoder.encode(ids.alert, ALERT_RECORD)[:5] == frame_header(ALERT)


def test_local_source_refuses_to_register_unknown_schema(local_source: LocalSchemaSource) -> None:
    schema = {"type": "record", "name": "Other", "fields": []}
    with pytest.raises(CodecError, match="not in"):
        local_source.register("x-value", schema)


def test_registry_register_encode_decode(
    mock_registry: SchemaRegistryClient, decoder_factory: Callable[..., ReadingDecoder]
) -> None:
    source = RegistrySchemaSource(mock_registry)
    local = LocalSchemaSource().schema_ids
    v1_id = source.register("telemetry.readings-value", local[V1])
    v2_id = source.register("telemetry.readings-value", local[V2])
    encoder, ids = output_encoder(
        source, rollups_topic="telemetry.rollups", alerts_topic="telemetry.alerts"
    )
    assert len({v1_id, v2_id, ids.rollup, ids.alert}) == 4
    assert sorted(mock_registry.get_subjects()) == sorted(
        ["telemetry.readings-value", "telemetry.rollups-value", "telemetry.alerts-value"]
    )
    encoder.add(v1_id, local[V1])
    encoder.add(v2_id, local[V2])

    decoder = decoder_factory(RegistrySchemaSource(mock_registry))  # a cold cache
    values = [encoder.encode(v1_id, reading_v1()), encoder.encode(v2_id, reading_v2())]
    decoded, failures = decoder.decode_batch(values)
    assert failures == []
    assert decoded == [
        {**reading_v1(), "unit": None, "battery_level": None, "firmware": None},
        reading_v2(),
    ]

    records = RecordDecoder(source)
    assert records.decode(encoder.encode(ids.rollup, ROLLUP_RECORD)) == (ids.rollup, ROLLUP_RECORD)
    assert records.decode(encoder.encode(ids.alert, ALERT_RECORD)) == (ids.alert, ALERT_RECORD)


def test_registry_source_unknown_id_is_none(mock_registry: SchemaRegistryClient) -> None:
    assert RegistrySchemaSource(mock_registry).lookup(12345) is None


def test_registry_outage_raises_source_error(
    decoder_factory: Callable[..., ReadingDecoder],
) -> None:
    # Nothing listens on port 9 (discard); the client fails fast without retries.
    client = SchemaRegistryClient({"url": "http://127.0.0.1:9", "max.retries": 0, "timeout": 1})
    decoder = decoder_factory(RegistrySchemaSource(client))
    with pytest.raises(SchemaSourceError):
        decoder.decode_batch([frame_header(1) + b"\x02a"])
    client.close()
