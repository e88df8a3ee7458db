"""Schema files and helpers: the ``schemas/`` directory, logical-type stripping, naming.

Timestamps stay plain ``int`` epoch milliseconds everywhere in this package: the codec parses
every schema with its ``logicalType`` annotations removed, so fastavro neither builds
``datetime`` objects on the hot path nor fails on far-off timestamps (which the decoder reports
as ``bad_timestamp`` instead). The wire bytes are the same either way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TypeAlias

from fastavro import parse_schema
from fastavro.types import Schema

AvroSchema: TypeAlias = Schema
"""An Avro schema as JSON data (a dict, a list for a union, or a type name)."""


def _schema_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if (checkout / "registry.json").exists():
        return checkout
    return Path(sys.prefix) / "share" / "telemetry" / "schemas"  # installed from a wheel


SCHEMA_DIR = _schema_dir()
"""The repository's ``schemas/`` directory (or the installed copy), the default for local
schema lookup."""

READING_V1_FILE = "sensor_reading.v1.avsc"
READING_V2_FILE = "sensor_reading.v2.avsc"
ROLLUP_FILE = "rollup.avsc"
ALERT_FILE = "alert.avsc"


def load_schema_file(path: Path) -> dict[str, Any]:
    """Read one ``.avsc`` file as JSON (unparsed, so it can be registered or compared)."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def strip_logical_types(schema: Any) -> Any:
    """Return a copy of ``schema`` without ``logicalType`` annotations (see module doc)."""
    if isinstance(schema, list):
        return [strip_logical_types(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value for key, value in schema.items() if key != "logicalType"}
    kind = out.get("type")
    if isinstance(kind, (dict, list)):
        out["type"] = strip_logical_types(kind)
    if kind in {"record", "error"}:
        out["fields"] = [
            {**field, "type": strip_logical_types(field["type"])} for field in out["fields"]
        ]
    elif kind == "array":
        out["items"] = strip_logical_types(out["items"])
    elif kind == "map":
        out["values"] = strip_logical_types(out["values"])
    return out


def parse_plain(schema: AvroSchema) -> AvroSchema:
    """Parse ``schema`` with fastavro after stripping its logical types."""
    return parse_schema(strip_logical_types(schema))


def type_key(schema: Any) -> str:
    """Comparable text of a field type: docs and field order noise removed, logical types kept."""
    return json.dumps(_normalise(schema), sort_keys=True, separators=(",", ":"))


def _normalise(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_normalise(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _normalise(value) for key, value in schema.items() if key != "doc"}
    if set(out) == {"type"} and isinstance(out["type"], str):
        return out["type"]
    return out


def full_name(schema: Any) -> str | None:
    """Namespace-qualified name of a named schema, or ``None`` for an unnamed one."""
    if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
        return None
    name: str = schema["name"]
    namespace = schema.get("namespace")
    if "." in name or not isinstance(namespace, str) or not namespace:
        return name
    return f"{namespace}.{name}"


def value_subject(topic: str) -> str:
    """Schema Registry subject of a topic's values (Confluent ``TopicNameStrategy``)."""
    return f"{topic}-value"
