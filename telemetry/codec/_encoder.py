"""Encoding records with the Confluent framing, and registering the output schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer
from fastavro.types import Schema

from telemetry.codec._fastwrite import FastWriter, fast_writer
from telemetry.codec._framing import frame_header
from telemetry.codec._schemas import (
    ALERT_FILE,
    READING_V2_FILE,
    ROLLUP_FILE,
    SCHEMA_DIR,
    AvroSchema,
    load_schema_file,
    parse_plain,
    value_subject,
)
from telemetry.codec._sources import SchemaSource
from telemetry.errors import CodecError

ENCODE_ERROR = "encode_error"
"""``CodecError.reason`` of a record that does not fit its schema, or an unknown schema id."""


class Encoder:
    """Encodes dicts as Confluent-framed Avro with known schema ids.

    Timestamps are ``int`` epoch milliseconds, enums their symbol strings.
    """

    def __init__(self, schemas: Mapping[int, AvroSchema] | None = None) -> None:
        self._schemas: dict[int, tuple[bytes, Schema, FastWriter | None]] = {}
        for schema_id, schema in (schemas or {}).items():
            self.add(schema_id, schema)

    def add(self, schema_id: int, schema: AvroSchema) -> None:
        """Make ``schema_id`` encodable with ``schema``."""
        header = frame_header(schema_id)
        parsed = parse_plain(schema)
        fast = fast_writer(header, schema) if isinstance(schema, dict) else None
        self._schemas[schema_id] = (header, parsed, fast)

    def register(self, source: SchemaSource, subject: str, schema: AvroSchema) -> int:
        """Register ``schema`` under ``subject`` with ``source``, add it, return its id."""
        schema_id = source.register(subject, schema)
        self.add(schema_id, schema)
        return schema_id

    def encode(self, schema_id: int, record: Mapping[str, Any]) -> bytes:
        """Return ``record`` framed as ``0x00``, ``schema_id`` (4 bytes, big-endian), Avro body."""
        entry = self._schemas.get(schema_id)
        if entry is None:
            raise CodecError(ENCODE_ERROR, f"schema id {schema_id} is not known to this encoder")
        header, schema, fast = entry
        if fast is not None:
            try:
                return fast(record)
            except Exception:  # noqa: BLE001, S110 -- not as expected: fastavro decides below
                pass
        out = BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, schema, dict(record))
        except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError, ...
            raise CodecError(
                ENCODE_ERROR, f"record does not fit schema {schema_id}: {exc}"
            ) from exc
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class OutputSchemaIds:
    """Schema ids of the pipeline's outputs, as registered on start."""

    rollup: int
    alert: int


def output_encoder(
    source: SchemaSource,
    *,
    rollups_topic: str,
    alerts_topic: str,
    schema_dir: Path = SCHEMA_DIR,
) -> tuple[Encoder, OutputSchemaIds]:
    """Register the Rollup and Alert schemas (subjects ``<topic>-value``) and build an encoder."""
    encoder = Encoder()
    rollup = encoder.register(
        source, value_subject(rollups_topic), load_schema_file(schema_dir / ROLLUP_FILE)
    )
    alert = encoder.register(
        source, value_subject(alerts_topic), load_schema_file(schema_dir / ALERT_FILE)
    )
    return encoder, OutputSchemaIds(rollup=rollup, alert=alert)


def register_readings(
    encoder: Encoder, source: SchemaSource, topic: str, *, schema_dir: Path = SCHEMA_DIR
) -> int:
    """Register the SensorReading v2 schema for ``topic`` (subject ``<topic>-value``) with
    ``encoder``, for readings re-encoded to it (late readings); its schema id."""
    return encoder.register(
        source, value_subject(topic), load_schema_file(schema_dir / READING_V2_FILE)
    )
