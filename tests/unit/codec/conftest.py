"""Fixtures for the codec tests: schema sources, encoders and decoders with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from telemetry.codec import AvroSchema, Encoder, LocalSchemaSource, ReadingDecoder, SchemaSource
from telemetry.errors import CodecError

NOW_MS = 1_700_000_000_000
"""The tests' wall clock: 2023-11-14T22:13:20Z."""
V1, V2, ROLLUP, ALERT = 1, 2, 3, 4


class DictSource:
    """A :class:`SchemaSource` over a plain dict, for writer schemas the repo does not ship."""

    def __init__(self, schemas: Mapping[int, AvroSchema]) -> None:
        self.schemas = dict(schemas)
        self.lookups = 0

    def lookup(self, schema_id: int) -> AvroSchema | None:
        self.lookups += 1
        return self.schemas.get(schema_id)

    def register(self, subject: str, schema: AvroSchema) -> int:
        raise CodecError("unknown_schema", f"{subject}: read-only source, not adding {schema!r}")


def reading_v1(**overrides: Any) -> dict[str, Any]:
    """A valid v1 SensorReading dict."""
    return {
        "device_id": "device-00042",
        "sensor": "temperature",
        "ts": NOW_MS - 1_000,
        "value": 21.5,
        "seq": 7,
        **overrides,
    }


def reading_v2(**overrides: Any) -> dict[str, Any]:
    """A valid v2 SensorReading dict (battery level exact in float32)."""
    return {
        **reading_v1(),
        "unit": "Cel",
        "battery_level": 0.75,
        "firmware": "2.4.1",
        **overrides,
    }


@pytest.fixture(scope="session")
def local_source() -> LocalSchemaSource:
    return LocalSchemaSource()


@pytest.fixture(scope="session")
def encoder(local_source: LocalSchemaSource) -> Encoder:
    return Encoder(local_source.schema_ids)


@pytest.fixture
def decoder_factory() -> Callable[..., ReadingDecoder]:
    """Build decoders whose clock reads :data:`NOW_MS`."""

    def build(source: SchemaSource | None = None, **kwargs: Any) -> ReadingDecoder:
        return ReadingDecoder(source or LocalSchemaSource(), now=lambda: NOW_MS / 1000, **kwargs)

    return build


@pytest.fixture
def decoder(decoder_factory: Callable[..., ReadingDecoder]) -> ReadingDecoder:
    return decoder_factory()


@pytest.fixture
def mock_registry(request: pytest.FixtureRequest) -> Iterator[SchemaRegistryClient]:
    """confluent-kafka's in-memory registry, one per test."""
    client = SchemaRegistryClient.new_client({"url": f"mock://{request.node.name}"})
    yield client
    client.close()
