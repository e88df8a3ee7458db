"""The .avsc files: parseable, documented, numbered by registry.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastavro import parse_schema

from telemetry.codec import SCHEMA_DIR, LocalSchemaSource

FILES = ["sensor_reading.v1.avsc", "sensor_reading.v2.avsc", "rollup.avsc", "alert.avsc"]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", FILES)
def test_schema_is_documented_in_the_namespace(name: str) -> None:
    schema = _load(name)
    parse_schema(schema)
    assert schema["namespace"] == "iot.telemetry"
    assert schema["doc"]
    for field in schema["fields"]:
        assert field.get("doc"), f"{name}: field {field['name']} has no doc"


def test_registry_maps_local_ids_to_files(local_source: LocalSchemaSource) -> None:
    ids = local_source.schema_ids
    assert {schema_id: _name(schema) for schema_id, schema in ids.items()} == {
        1: "SensorReading",
        2: "SensorReading",
        3: "Rollup",
        4: "Alert",
    }
    assert ids[1] == _load("sensor_reading.v1.avsc")
    assert ids[2] == _load("sensor_reading.v2.avsc")


def test_v2_only_adds_optional_fields() -> None:
    v1, v2 = _load("sensor_reading.v1.avsc"), _load("sensor_reading.v2.avsc")
    assert v2["fields"][: len(v1["fields"])] == v1["fields"]
    for field in v2["fields"][len(v1["fields"]) :]:
        assert field["type"][0] == "null"
        assert field["default"] is None


def test_rollup_carries_its_identity() -> None:
    names = {field["name"] for field in _load("rollup.avsc")["fields"]}
    assert {"device_id", "sensor", "window_start", "window_size_ms"} <= names


def _name(schema: object) -> str:
    assert isinstance(schema, dict)
    name: str = schema["name"]
    return name
