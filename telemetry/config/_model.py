"""The configuration model: typed, frozen, validated on construction.

One YAML file maps onto :class:`Config` key by key (``kafka.bootstrap_servers`` is
``Config.kafka.bootstrap_servers``); every key can be overridden from the environment as
``TELEMETRY_<SECTION>__<KEY>`` (e.g. ``TELEMETRY_KAFKA__BOOTSTRAP_SERVERS``). Loading, env
overrides, secrets from files and error messages naming the key path live in the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from telemetry.errors import ConfigError
from telemetry.rules import Rule
from telemetry.windows import Tumbling, WindowSpec


@dataclass(frozen=True, kw_only=True)
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Raw librdkafka settings passed through to every client (e.g. ``client.rack``)."""

    def client_config(self) -> dict[str, str]:
        """librdkafka settings common to the consumer, the producer and the admin client."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password
        if self.ssl_ca_location is not None:
            config["ssl.ca.location"] = self.ssl_ca_location
        config.update(self.extra)
        return config


@dataclass(frozen=True, kw_only=True)
class TopicsConfig:
    readings: str = "telemetry.readings"
    rollups: str = "telemetry.rollups"
    alerts: str = "telemetry.alerts"
    deadletter: str = "telemetry.deadletter"
    late: str | None = None
    """Late events (their window already closed) go here when set; always counted."""
    partitions: int = 8
    replication_factor: int = 1
    retention_ms: int = 7 * 24 * 3600 * 1000
    """``retention.ms`` of the topics ``telemetry topics`` creates (-1: keep forever)."""

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ConfigError("topics.partitions must be >= 1")
        if self.replication_factor < 1:
            raise ConfigError("topics.replication_factor must be >= 1")
        if self.retention_ms < 1 and self.retention_ms != -1:
            raise ConfigError("topics.retention_ms must be >= 1 (or -1 for no limit)")


@dataclass(frozen=True, kw_only=True)
class SchemasConfig:
    registry_url: str | None = None
    """Confluent-compatible Schema Registry; without it, the local ``schemas/`` mapping."""
    directory: str | None = None
    """Directory with registry.json and .avsc files (default: the bundled schemas)."""


@dataclass(frozen=True, kw_only=True)
class ProcessingConfig:
    group_id: str = "telemetry"
    windows: tuple[WindowSpec, ...] = (Tumbling(size_ms=10_000), Tumbling(size_ms=60_000))
    rules: tuple[Rule, ...] = ()
    allowed_lateness_ms: int = 5_000
    idle_timeout_ms: int = 30_000
    """A partition with no new data for this long advances its watermark with the wall clock."""
    max_future_ms: int = 7 * 24 * 3600 * 1000
    max_past_ms: int = 3650 * 24 * 3600 * 1000
    commit_interval_s: float = 5.0
    max_demand: int = 5_000
    prefetch: int = 10_000
    sink_window: int = 20_000
    sink_rate_limit: float | None = None
    """Outputs per second at most (None: unlimited); a limited sink slows consumption."""
    drain_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        checks = {
            "allowed_lateness_ms": self.allowed_lateness_ms >= 0,
            "idle_timeout_ms": self.idle_timeout_ms > 0,
            "max_future_ms": self.max_future_ms > 0,
            "max_past_ms": self.max_past_ms > 0,
            "commit_interval_s": self.commit_interval_s > 0,
            "max_demand": self.max_demand >= 2,
            "prefetch": self.prefetch >= 1,
            "sink_window": self.sink_window >= 1,
            "sink_rate_limit": self.sink_rate_limit is None or self.sink_rate_limit > 0,
            "drain_timeout_s": self.drain_timeout_s > 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"processing.{key} is out of range")
        if not self.windows:
            raise ConfigError("processing.windows must name at least one window")


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    host: str = "127.0.0.1"
    """Use 0.0.0.0 in a container (the Helm chart and docker-compose do)."""
    port: int = 9100

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError("metrics.port must be in 0..65535 (0 picks a free port)")


@dataclass(frozen=True, kw_only=True)
class LogConfig:
    format: Literal["auto", "json", "text"] = "auto"
    """auto: text on a terminal, JSON lines otherwise."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True, kw_only=True)
class Config:
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    schemas: SchemasConfig = field(default_factory=SchemasConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log: LogConfig = field(default_factory=LogConfig)
