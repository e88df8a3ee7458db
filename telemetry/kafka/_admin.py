"""Topic administration: probe the broker, check or create the topics a configuration names.

``telemetry topics`` creates them (``cleanup.policy=delete`` with ``retention.ms``, the
changelog compacted); ``telemetry run`` refuses to start while one is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)

from telemetry.errors import ConfigError, KafkaClientError
from telemetry.kafka._changelog import CHANGELOG_CONFIG

if TYPE_CHECKING:
    from telemetry.config import Config, KafkaConfig

CONNECT_TIMEOUT_S = 10.0
CLEANUP_POLICY = "delete"
"""Every topic is ``cleanup.policy=delete`` with ``retention.ms``: rollups are keyed by device
id with one record per window, so compaction would keep only a device's newest rollup."""


def _quiet_logger() -> logging.Logger:
    # librdkafka logs every failed connection attempt; the CLI reports one line instead.
    quiet = logging.getLogger("telemetry.librdkafka")
    quiet.propagate = False
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    return quiet


def client_config(kafka: KafkaConfig, **extra: Any) -> dict[str, Any]:
    return {**kafka.client_config(), "logger": _quiet_logger(), **extra}


def admin_client(kafka: KafkaConfig) -> AdminClient:
    return AdminClient(client_config(kafka))


def probe_kafka(kafka: KafkaConfig, timeout: float = CONNECT_TIMEOUT_S) -> AdminClient:
    """An admin client whose broker answered within ``timeout``; else :class:`KafkaClientError`."""
    admin = admin_client(kafka)
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot reach Kafka at {kafka.bootstrap_servers} within {timeout:g} s "
            f"({_kafka_reason(exc)})"
        ) from None
    return admin


def require_topics(admin: AdminClient, config: Config, timeout: float) -> None:
    """ConfigError (exit 2) naming every configured input and output topic that does not
    exist: a processor that started anyway would stall on its first output, or let the
    broker auto-create a topic with the wrong partitions and retention. (The changelog is
    created by the processor itself when missing.)"""
    try:
        present = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot list the topics of {config.kafka.bootstrap_servers} ({_kafka_reason(exc)})"
        ) from None
    topics = config.topics
    wanted = {
        "topics.readings": topics.readings,
        "topics.rollups": topics.rollups,
        "topics.alerts": topics.alerts,
        "topics.deadletter": topics.deadletter,
    }
    if topics.late:
        wanted["topics.late"] = topics.late
    missing = [f"{key} ({name})" for key, name in wanted.items() if name not in present]
    if missing:
        raise ConfigError(
            f"missing topic(s): {', '.join(missing)}; create them with "
            "`telemetry topics --config <file>`, or point the keys at existing topics"
        )


def _kafka_reason(exc: KafkaException) -> str:
    error: Any = exc.args[0] if exc.args else None
    return str(error.str()) if hasattr(error, "str") else str(error or exc)


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


def topic_plans(config: Config, readings_partitions: int | None = None) -> list[TopicPlan]:
    """The topics ``config`` names, with the settings ``telemetry topics`` gives them.

    The changelog gets the readings topic's partition count (``readings_partitions`` when that
    topic exists already), so partition p's state lives in changelog partition p.
    """
    topics = config.topics
    names = [topics.readings, topics.rollups, topics.alerts, topics.deadletter]
    if topics.late:
        names.append(topics.late)
    settings = {"cleanup.policy": CLEANUP_POLICY, "retention.ms": str(topics.retention_ms)}
    plans = [
        TopicPlan(name, topics.partitions, topics.replication_factor, settings)
        for name in dict.fromkeys(names)
    ]
    if config.processing.changelog:
        plans.append(changelog_plan(config, readings_partitions or topics.partitions))
    return plans


def changelog_plan(config: Config, partitions: int) -> TopicPlan:
    return TopicPlan(
        config.changelog_topic, partitions, config.topics.replication_factor, CHANGELOG_CONFIG
    )


def ensure_topics(
    admin: AdminClient,
    config: Config,
    *,
    create: bool,
    timeout: float = CONNECT_TIMEOUT_S,
    out: Callable[[str], None] = print,
) -> bool:
    """Create (if ``create``) or check the configured topics; True if all exist as planned."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot reach Kafka at {config.kafka.bootstrap_servers} within {timeout:g} s "
            f"({_kafka_reason(exc)})"
        ) from None
    readings = metadata.topics.get(config.topics.readings)
    plans = topic_plans(config, len(readings.partitions) if readings is not None else None)
    missing = [plan for plan in plans if plan.name not in metadata.topics]
    ok = True
    if missing and create:
        _create_topics(admin, missing, timeout, out)
    elif missing:
        for plan in missing:
            out(f"MISSING  {plan.name} (want {_describe(plan)})")
        ok = False
    present = [plan for plan in plans if plan.name in metadata.topics]
    configs = _topic_configs(admin, [p.name for p in present], timeout)
    for plan in present:
        differences = _differences(plan, metadata.topics[plan.name], configs.get(plan.name, {}))
        if differences:
            ok = False
            out(f"DIFFERS  {plan.name}: {'; '.join(differences)}")
        else:
            out(f"ok       {_describe(plan)}")
    return ok


def _create_topics(
    admin: AdminClient, plans: list[TopicPlan], timeout: float, out: Callable[[str], None]
) -> None:
    futures = admin.create_topics(
        [
            NewTopic(
                plan.name,
                num_partitions=plan.partitions,
                replication_factor=plan.replication_factor,
                config=dict(plan.configs),
            )
            for plan in plans
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for plan in plans:
        try:
            futures[plan.name].result(timeout=timeout + 5)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise KafkaClientError(
                    f"cannot create topic {plan.name}: {_kafka_reason(exc)}", topic=plan.name
                ) from None
        out(f"created  {_describe(plan)}")


def _differences(plan: TopicPlan, meta: Any, configs: Mapping[str, str]) -> list[str]:
    partitions = len(meta.partitions)
    replicas = min((len(p.replicas) for p in meta.partitions.values()), default=0)
    differences = []
    if partitions != plan.partitions:
        differences.append(f"partitions {partitions} (want {plan.partitions})")
    if replicas != plan.replication_factor:
        differences.append(f"replication {replicas} (want {plan.replication_factor})")
    for key, want in plan.configs.items():
        have = configs.get(key)
        if have != want:
            differences.append(f"{key}={have} (want {want})")
    return differences


def _describe(plan: TopicPlan) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in plan.configs.items())
    return (
        f"{plan.name}: {plan.partitions} partitions, replication {plan.replication_factor}, "
        f"{settings}"
    )


def _topic_configs(
    admin: AdminClient, names: list[str], timeout: float
) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    result: dict[str, dict[str, str]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entries = future.result(timeout=timeout + 5)
        result[resource.name] = {key: str(entry.value) for key, entry in entries.items()}
    return result
