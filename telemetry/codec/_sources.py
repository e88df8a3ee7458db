"""Where schemas come from: a Confluent Schema Registry, or the local ``schemas/`` directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from telemetry.codec._schemas import SCHEMA_DIR, AvroSchema, load_schema_file
from telemetry.errors import CodecError, SchemaSourceError

LOCAL_REGISTRY_FILE = "registry.json"
_NOT_FOUND = 404


class SchemaSource(Protocol):
    """Resolves Confluent schema ids to Avro schemas and registers output schemas."""

    def lookup(self, schema_id: int) -> AvroSchema | None:
        """Return the (unparsed) Avro schema of ``schema_id``, or ``None`` if it is unknown.

        Raises :class:`SchemaSourceError` when the source cannot be asked at all.
        """
        ...

    def register(self, subject: str, schema: AvroSchema) -> int:
        """Register ``schema`` under ``subject`` (if needed) and return its schema id."""
        ...


class RegistrySchemaSource:
    """Schemas from a Confluent Schema Registry through confluent-kafka's own client.

    Lookups are cached per id (the client caches too; this cache also keeps the JSON parsed).
    ``SchemaRegistryClient({"url": "mock://name"})`` gives confluent-kafka's in-memory mock.
    """

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._client = client
        self._cache: dict[int, AvroSchema] = {}

    def lookup(self, schema_id: int) -> AvroSchema | None:
        cached = self._cache.get(schema_id)
        if cached is not None:
            return cached
        try:
            registered = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == _NOT_FOUND:
                return None
            raise SchemaSourceError(f"schema registry failed for id {schema_id}: {exc}") from exc
        except Exception as exc:  # the client raises requests/httpx errors of many kinds
            raise SchemaSourceError(f"schema registry failed for id {schema_id}: {exc}") from exc
        if (registered.schema_type or "AVRO") != "AVRO" or registered.schema_str is None:
            return None
        try:
            schema: AvroSchema = json.loads(registered.schema_str)
        except ValueError:
            return None
        self._cache[schema_id] = schema
        return schema

    def register(self, subject: str, schema: AvroSchema) -> int:
        try:
            schema_id = self._client.register_schema(
                subject, Schema(json.dumps(schema), schema_type="AVRO")
            )
        except Exception as exc:  # same as lookup: any client failure means "unavailable"
            raise SchemaSourceError(f"cannot register schema under {subject!r}: {exc}") from exc
        self._cache[schema_id] = schema
        return schema_id


class LocalSchemaSource:
    """Schemas from ``.avsc`` files, numbered by the directory's ``registry.json``.

    ``registry.json`` is ``{"schemas": {"<id>": "<file>.avsc", ...}}``. ``register`` does not
    add anything: it returns the local id of an equal schema (by Parsing Canonical Form) and
    raises :class:`~telemetry.errors.CodecError` (``unknown_schema``) when there is none.
    """

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self._directory = directory
        mapping = _read_mapping(directory / LOCAL_REGISTRY_FILE)
        self._schemas: dict[int, AvroSchema] = {
            schema_id: load_schema_file(directory / name) for schema_id, name in mapping.items()
        }
        self._canonical = {
            _canonical(schema): schema_id for schema_id, schema in self._schemas.items()
        }

    @property
    def schema_ids(self) -> dict[int, AvroSchema]:
        """A copy of the id -> schema mapping."""
        return dict(self._schemas)

    def lookup(self, schema_id: int) -> AvroSchema | None:
        return self._schemas.get(schema_id)

    def register(self, subject: str, schema: AvroSchema) -> int:
        schema_id = self._canonical.get(_canonical(schema))
        if schema_id is None:
            raise CodecError(
                "unknown_schema",
                f"schema for {subject!r} is not in {self._directory / LOCAL_REGISTRY_FILE}",
            )
        return schema_id


def _canonical(schema: AvroSchema) -> str:
    return to_parsing_canonical_form(parse_schema(schema))


def _read_mapping(path: Path) -> dict[int, str]:
    with path.open(encoding="utf-8") as handle:
        data: Any = json.load(handle)
    entries = data.get("schemas") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise CodecError("unknown_schema", f"{path}: expected an object with a 'schemas' object")
    return {int(key): str(value) for key, value in entries.items()}
