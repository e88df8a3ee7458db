"""How one writer schema id is read with the reader schema: resolved once, cached per id.

Avro schema resolution in fastavro (passing ``reader_schema``) costs several microseconds per
record. When every field the writer shares with the reader has the same type, resolution
reduces to "drop the writer's extra fields, add the reader's defaults", which the decoder does
with one ``dict.update`` per record; fastavro then reads with the writer schema alone. Only
writers that need real resolution (type promotion, say ``int`` -> ``double``) pay for it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

from fastavro import parse_schema, schemaless_reader
from fastavro.types import Schema

from telemetry.codec._fastread import FastReader, fast_reader
from telemetry.codec._reasons import Reason
from telemetry.codec._schemas import AvroSchema, full_name, strip_logical_types, type_key


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to read one writer schema: ``failure`` set means every record of it fails."""

    writer: Schema | None = None
    """Parsed writer schema (logical types stripped)."""
    reader: Schema | None = None
    """Parsed reader schema for fastavro resolution, or ``None`` when not needed."""
    nullable: tuple[str, ...] = ()
    """Required reader fields the writer may send as null: checked per record."""
    defaults: dict[str, Any] | None = None
    """Reader fields the writer lacks, with their default values, added per record."""
    extra: tuple[str, ...] = ()
    """Writer fields the reader lacks, removed per record."""
    failure: tuple[str, str] | None = None
    """``(reason, message)`` for every record of this schema id."""
    fast: FastReader | None = None
    """The generated reader (extra fields dropped, defaults added), when the writer is flat."""

    def as_tuple(
        self,
    ) -> tuple[
        Schema | None,
        Schema | None,
        tuple[str, ...],
        dict[str, Any] | None,
        tuple[str, ...],
        tuple[str, str] | None,
        FastReader | None,
    ]:
        """The fields in order, for unpacking into hot-loop locals."""
        return (
            self.writer,
            self.reader,
            self.nullable,
            self.defaults,
            self.extra,
            self.failure,
            self.fast,
        )


def failed(reason: str, message: str) -> ReadPlan:
    """A plan that rejects every record of its schema id."""
    return ReadPlan(failure=(reason, message))


def plan_for(writer: AvroSchema, reader: AvroSchema) -> ReadPlan:
    """Work out how to read records written with ``writer`` into the shape of ``reader``."""
    if not isinstance(writer, dict) or writer.get("type") != "record":
        return failed(Reason.SCHEMA_MISMATCH, "writer schema is not a record")
    assert isinstance(reader, dict)  # noqa: S101 -- the decoder validates its reader schema
    reader_name = full_name(reader)
    if full_name(writer) not in {reader_name, *_aliases(reader)}:
        return failed(
            Reason.SCHEMA_MISMATCH,
            f"writer schema is {full_name(writer)}, not {reader_name}",
        )
    try:
        writer_parsed = parse_schema(strip_logical_types(writer))
        writer_fields = {field["name"]: field for field in writer["fields"]}
        plan = _plan_fields(writer_parsed, writer_fields, reader)
    except Exception as exc:  # noqa: BLE001 -- any unparsable writer schema is a mismatch
        return failed(Reason.SCHEMA_MISMATCH, f"writer schema unusable: {exc}")
    if plan.reader is not None or plan.failure is not None:
        return plan
    fast = fast_reader(writer["fields"], frozenset(plan.extra), plan.defaults or {})
    return replace(plan, fast=fast)


def _plan_fields(
    writer_parsed: Schema, writer_fields: dict[str, dict[str, Any]], reader: dict[str, Any]
) -> ReadPlan:
    reader_fields: list[dict[str, Any]] = reader["fields"]
    nullable: list[str] = []
    defaulted: list[dict[str, Any]] = []
    needs_resolution = False
    resolved_fields: list[dict[str, Any]] = []
    for field in reader_fields:
        name = field["name"]
        source = writer_fields.get(name)
        if source is None:
            if "default" not in field:
                return failed(
                    Reason.MISSING_VALUE, f"writer schema has no field {name!r} and no default"
                )
            defaulted.append(field)
            resolved_fields.append(field)
            continue
        wanted, given = type_key(field["type"]), type_key(source["type"])
        if wanted == given:
            resolved_fields.append(field)
        elif _is_nullable_of(source["type"], wanted) and not _is_nullable(field["type"]):
            nullable.append(name)
            resolved_fields.append({**field, "type": ["null", field["type"]], "default": None})
        else:
            needs_resolution = True
            resolved_fields.append(field)
    extra = tuple(name for name in writer_fields if name not in {f["name"] for f in reader_fields})
    defaults = _default_values(reader, defaulted) if defaulted else None
    mutable_default = defaults is not None and any(
        isinstance(value, (list, dict)) for value in defaults.values()
    )
    if needs_resolution or mutable_default:
        resolved = {**reader, "fields": resolved_fields}
        return ReadPlan(
            writer=writer_parsed,
            reader=parse_schema(strip_logical_types(resolved)),
            nullable=tuple(nullable),
        )
    return ReadPlan(writer=writer_parsed, nullable=tuple(nullable), defaults=defaults, extra=extra)


def _aliases(schema: dict[str, Any]) -> list[str]:
    namespace = schema.get("namespace")
    aliases: list[str] = [a for a in schema.get("aliases", []) if isinstance(a, str)]
    return [a if "." in a or not namespace else f"{namespace}.{a}" for a in aliases]


def _is_nullable(schema: Any) -> bool:
    return isinstance(schema, list) and "null" in schema


def _is_nullable_of(schema: Any, wanted_key: str) -> bool:
    """True for a writer union of null and exactly the wanted type (either order)."""
    if not isinstance(schema, list) or len(schema) != 2 or "null" not in schema:
        return False
    other = schema[1] if schema[0] == "null" else schema[0]
    return type_key(other) == wanted_key


def _default_values(reader: dict[str, Any], fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Decode the defaults exactly as fastavro's resolution would produce them."""
    empty: dict[str, Any] = {"type": "record", "name": full_name(reader), "fields": []}
    only_defaults = {"type": "record", "name": full_name(reader), "fields": fields}
    record = schemaless_reader(
        io.BytesIO(b""),
        parse_schema(empty),
        parse_schema(strip_logical_types(only_defaults)),
    )
    assert isinstance(record, dict)  # noqa: S101 -- a record schema reads as a dict
    return record
