"""Decoding one framed record of any schema: for tools, tests and output consumers."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader
from fastavro.types import Schema

from telemetry.codec._framing import split_header
from telemetry.codec._reasons import Reason
from telemetry.codec._schemas import parse_plain
from telemetry.codec._sources import SchemaSource
from telemetry.errors import CodecError


class RecordDecoder:
    """Decodes single framed records with their writer schema (no reader schema, no checks).

    Not the hot path: use :class:`~telemetry.codec.ReadingDecoder` for readings.
    """

    def __init__(self, source: SchemaSource) -> None:
        self._source = source
        self._schemas: dict[int, Schema] = {}

    def decode(self, value: bytes | None) -> tuple[int, dict[str, Any]]:
        """Return ``(schema_id, record)``; raise :class:`CodecError` with a dead-letter reason."""
        schema_id, body = split_header(value)
        schema = self._schemas.get(schema_id)
        if schema is None:
            raw = self._source.lookup(schema_id)
            if raw is None:
                raise CodecError(Reason.UNKNOWN_SCHEMA, f"schema id {schema_id} is unknown")
            try:
                schema = parse_plain(raw)
            except Exception as exc:
                raise CodecError(Reason.SCHEMA_MISMATCH, f"schema {schema_id}: {exc}") from exc
            self._schemas[schema_id] = schema
        stream = BytesIO(body)
        try:
            record = schemaless_reader(stream, schema, None)
        except EOFError as exc:
            raise CodecError(Reason.TRUNCATED, str(exc) or "end of data") from exc
        except Exception as exc:
            reason = Reason.TRUNCATED if stream.tell() >= len(body) else Reason.SCHEMA_MISMATCH
            raise CodecError(reason, f"{type(exc).__name__}: {exc}") from exc
        if stream.tell() != len(body):
            raise CodecError(Reason.TRAILING_BYTES, f"{len(body) - stream.tell()} bytes left")
        if not isinstance(record, dict):
            raise CodecError(Reason.SCHEMA_MISMATCH, "schema is not a record schema")
        return schema_id, record
