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
from telemetry.rules import Rule, SilentRule
from telemetry.sinks import SinkSpec
from telemetry.windows import Tumbling, WindowSpec

RESERVED_STAGE_NAMES = frozenset({"source", "decode", "aggregate", "sink"})
"""The processor's own stages: a sink's name labels its stage and metrics, so it must differ."""

MIN_TRANSACTION_INTERVAL_S = 0.1
"""The shortest commit interval of exactly-once mode (its output latency)."""


@dataclass(frozen=True, kw_only=True)
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    """Never shown: kept out of the repr, so out of logs and tracebacks that print a config."""
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    """A client certificate (PEM) for mutual TLS, with ``ssl_key_location``."""
    ssl_key_location: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
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
        if self.ssl_certificate_location is not None:
            config["ssl.certificate.location"] = self.ssl_certificate_location
        if self.ssl_key_location is not None:
            config["ssl.key.location"] = self.ssl_key_location
        if self.ssl_key_password is not None:
            config["ssl.key.password"] = self.ssl_key_password
        config.update(self.extra)
        return config

    def insecure(self) -> list[str]:
        """Settings that work but expose something, one sentence each (logged at start)."""
        found = []
        if self.security_protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            found.append(
                "kafka: SASL PLAIN over SASL_PLAINTEXT sends the password unencrypted; "
                "use SASL_SSL (or a SCRAM mechanism)"
            )
        return found


@dataclass(frozen=True, kw_only=True)
class TopicsConfig:
    readings: str = "telemetry.readings"
    rollups: str = "telemetry.rollups"
    alerts: str = "telemetry.alerts"
    deadletter: str = "telemetry.deadletter"
    late: str | None = None
    """Late events (their window already closed) go here when set; always counted."""
    changelog: str | None = None
    """The compacted state changelog (default: ``<processing.group_id>-state-changelog``), with
    the readings topic's partition count: partition p holds the state of readings partition p."""
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
    registry_timeout_s: float = 5.0
    """Per request. A registry that accepts connections and never answers must not hold the
    poll loop: with the retries below a lookup gives up within about 3 x this."""
    registry_retries: int = 2
    """Retries of a failed request, backing off from 200 ms up to 2 s."""
    registry_username: str | None = None
    registry_password: str | None = field(default=None, repr=False)
    """Basic auth (prefer ``registry_password_file``, a mounted secret)."""
    registry_ca_location: str | None = None
    """CA bundle to verify an https registry's certificate."""

    def __post_init__(self) -> None:
        if not 0 < self.registry_timeout_s <= 120:
            raise ConfigError("schemas.registry_timeout_s must be in (0, 120]")
        if not 0 <= self.registry_retries <= 10:
            raise ConfigError("schemas.registry_retries must be in [0, 10]")
        if (self.registry_username is None) != (self.registry_password is None):
            raise ConfigError(
                "schemas.registry_password needs schemas.registry_username, and the other way round"
            )

    def registry_client_config(self) -> dict[str, object]:
        """The Schema Registry client's settings (``registry_url`` must be set)."""
        config: dict[str, object] = {
            "url": self.registry_url,
            "timeout": self.registry_timeout_s,
            "max.retries": self.registry_retries,
            "retries.wait.ms": 200,
            "retries.max.wait.ms": 2_000,
        }
        if self.registry_username is not None:
            config["basic.auth.user.info"] = f"{self.registry_username}:{self.registry_password}"
        if self.registry_ca_location is not None:
            config["ssl.ca.location"] = self.registry_ca_location
        return config


@dataclass(frozen=True, kw_only=True)
class ProcessingConfig:
    group_id: str = "telemetry"
    windows: tuple[WindowSpec, ...] = (Tumbling(size_ms=10_000), Tumbling(size_ms=60_000))
    rules: tuple[Rule, ...] = ()
    allowed_lateness_ms: int = 5_000
    idle_timeout_ms: int = 30_000
    """A partition with no new data for this long advances its watermark with the wall clock."""
    max_future_ms: int = 5 * 60 * 1000
    """Readings further ahead of the wall clock are dead-lettered (``future_timestamp``)."""
    key_mismatch: Literal["rekey", "deadletter"] = "rekey"
    """A reading whose Kafka key is not its device id (or is null) sits in a partition that
    does not hold its device's state: counted, then sent back to the readings topic keyed by
    its device id (``rekey``) or dead-lettered as ``key_mismatch``."""
    max_clock_ahead_ms: int = 1_000
    """A partition's clock runs at most this far ahead of the wall clock: a reading from a
    device whose clock is ahead (up to ``max_future_ms``) is aggregated but does not close
    the other devices' windows early."""
    max_past_ms: int = 3650 * 24 * 3600 * 1000
    commit_interval_s: float = 5.0
    max_demand: int = 5_000
    prefetch: int = 10_000
    sink_window: int = 20_000
    sink_rate_limit: float | None = None
    """Outputs per second at most (None: unlimited); a limited sink slows consumption."""
    drain_timeout_s: float = 20.0
    changelog: bool = True
    """Checkpoint window and rule state to the changelog topic every commit interval and
    restore it on assign. Off, state lives in memory only and a restart replays every window
    still open (the commit never passes one)."""
    state_ttl_ms: int = 24 * 3600 * 1000
    """A (device, sensor) without a reading for this long in event time is forgotten (with a
    changelog tombstone). Must exceed every window, the allowed lateness and silence rule."""
    instance_id: str | None = None
    """Static group membership (``group.instance.id``): a restarted member with the same id
    gets its partitions back at once instead of after a rebalance. The Helm chart sets the pod
    name."""
    session_timeout_ms: int = 45_000
    """How long the group waits for a member that stopped heartbeating before it moves that
    member's partitions (``session.timeout.ms``)."""
    guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    """``exactly_once``: every commit interval the outputs, the changelog records and the
    consumed offsets are committed in one Kafka transaction, so a crash never republishes;
    consumers of the outputs must read with ``isolation.level=read_committed``. Outputs
    become visible at commits: the commit interval is their latency."""
    transaction_timeout_ms: int = 10_000
    """exactly_once: the broker aborts a transaction left open this long (a crashed process's),
    which holds read_committed consumers of its output partitions back until then."""
    workers: int = 1
    """Group members this process runs, one worker process each (``telemetry run --workers``):
    one per core, since a member's Python work runs on one core. 1: no worker processes, the
    member runs in this process."""

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(
                "processing.workers must be an integer >= 1 (one group member per worker "
                f"process), got {self.workers!r}"
            )
        checks = {
            "allowed_lateness_ms": self.allowed_lateness_ms >= 0,
            "idle_timeout_ms": self.idle_timeout_ms > 0,
            "max_future_ms": self.max_future_ms > 0,
            "max_clock_ahead_ms": 0 <= self.max_clock_ahead_ms <= self.max_future_ms,
            "key_mismatch": self.key_mismatch in ("rekey", "deadletter"),
            "max_past_ms": self.max_past_ms > 0,
            "commit_interval_s": self.commit_interval_s > 0,
            "max_demand": self.max_demand >= 2,
            "prefetch": self.prefetch >= 1,
            "sink_window": self.sink_window >= 1,
            "sink_rate_limit": self.sink_rate_limit is None or self.sink_rate_limit > 0,
            "drain_timeout_s": self.drain_timeout_s > 0,
            "state_ttl_ms": self.state_ttl_ms > 0,
            "session_timeout_ms": 1_000 <= self.session_timeout_ms <= 3_600_000,
            "instance_id": self.instance_id is None or bool(self.instance_id.strip()),
            "guarantee": self.guarantee in ("at_least_once", "exactly_once"),
            "transaction_timeout_ms": 1_000 <= self.transaction_timeout_ms <= 900_000,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"processing.{key} is out of range")
        if not self.windows:
            raise ConfigError("processing.windows must name at least one window")
        if self.guarantee == "exactly_once":
            if not self.changelog:
                raise ConfigError(
                    "processing.guarantee: exactly_once needs processing.changelog: true "
                    "(the state is committed with the outputs)"
                )
            if self.commit_interval_s < MIN_TRANSACTION_INTERVAL_S:
                raise ConfigError(
                    f"processing.commit_interval_s must be at least {MIN_TRANSACTION_INTERVAL_S}"
                    " s with exactly_once (each commit is a transaction: below that its commit"
                    " round trips and markers cost more than the latency they save)"
                )
            if self.transaction_timeout_ms < 2 * self.commit_interval_s * 1000:
                raise ConfigError(
                    "processing.transaction_timeout_ms must be at least twice "
                    "processing.commit_interval_s (a transaction spans one interval)"
                )
        self._check_ttl()

    def _check_ttl(self) -> None:
        """State must outlive everything that still needs it: a key evicted while a window or
        a silence timer of it is pending would lose that output."""
        needs = {
            f"a {w.kind_name} window of {w.extent_ms} ms plus the allowed lateness "
            f"({self.allowed_lateness_ms} ms)": w.extent_ms + self.allowed_lateness_ms
            for w in self.windows
        }
        for rule in self.rules:
            if isinstance(rule, SilentRule):
                needs[f"silence rule {rule.name!r} ({rule.after_ms} ms)"] = rule.after_ms
        for what, ms in needs.items():
            if self.state_ttl_ms <= ms:
                raise ConfigError(
                    f"processing.state_ttl_ms ({self.state_ttl_ms}) must exceed {what}"
                )


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
    sinks: tuple[SinkSpec, ...] = ()
    """Output sinks besides the Kafka topics (YAML ``sinks:``, a list of ``kind:`` items)."""

    def __post_init__(self) -> None:
        names = [sink.name for sink in self.sinks]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ConfigError(f"sinks[{index}].name: duplicate sink name {name!r}")
            if name in RESERVED_STAGE_NAMES:
                raise ConfigError(
                    f"sinks[{index}].name: {name!r} names a built-in stage; choose another"
                )

    @property
    def changelog_topic(self) -> str:
        """``topics.changelog``, or the name derived from the group id (as Kafka Streams
        derives ``<application.id>-<store>-changelog``)."""
        return self.topics.changelog or f"{self.processing.group_id}-state-changelog"
