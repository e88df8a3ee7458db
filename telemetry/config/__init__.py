"""Configuration: the typed model (and, in the loader, YAML + environment + secrets)."""

from telemetry.config._model import (
    Config,
    KafkaConfig,
    LogConfig,
    MetricsConfig,
    ProcessingConfig,
    SchemasConfig,
    TopicsConfig,
)

__all__ = [
    "Config",
    "KafkaConfig",
    "LogConfig",
    "MetricsConfig",
    "ProcessingConfig",
    "SchemasConfig",
    "TopicsConfig",
]
