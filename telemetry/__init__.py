"""telemetry: a demand-driven Kafka stream processor for IoT sensor telemetry."""

from __future__ import annotations

from telemetry.errors import (
    CodecError,
    ConfigError,
    KafkaClientError,
    LocalKafkaError,
    StageError,
    TelemetryError,
)

__version__ = "0.1.0"

__all__ = [
    "CodecError",
    "ConfigError",
    "KafkaClientError",
    "LocalKafkaError",
    "StageError",
    "TelemetryError",
    "__version__",
]
