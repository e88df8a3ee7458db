"""Configuration: the typed model, and the loader (YAML + environment + secrets from files)."""

from telemetry.config._load import build_config, load_config
from telemetry.config._model import (
    RESERVED_STAGE_NAMES,
    Config,
    KafkaConfig,
    LogConfig,
    MetricsConfig,
    ProcessingConfig,
    SchemasConfig,
    TopicsConfig,
)

__all__ = [
    "RESERVED_STAGE_NAMES",
    "Config",
    "KafkaConfig",
    "LogConfig",
    "MetricsConfig",
    "ProcessingConfig",
    "SchemasConfig",
    "TopicsConfig",
    "build_config",
    "load_config",
]
