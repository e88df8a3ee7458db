"""Shared fixtures: a real Apache Kafka broker and factories for its clients.

The broker is resolved once per session, in this order:
1. ``TELEMETRY_TEST_BOOTSTRAP`` names a broker to use as is;
2. testcontainers' Kafka, where a Docker engine answers;
3. otherwise the project's local KRaft broker (``scripts/kafka-local``), started for the session
   and stopped afterwards (left running if it was already up before the session).
A broker that cannot be started fails the run: integration tests never skip for want of Kafka.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tools.localkafka import LocalKafka

TopicFactory = Callable[..., str]
ProducerFactory = Callable[..., Producer]
ConsumerFactory = Callable[..., Consumer]


def _docker_engine_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]  # noqa: PLC0415  # optional engine
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
    except Exception:  # noqa: BLE001  # any failure means: no usable engine
        return False
    return True


def _report(config: pytest.Config, line: str) -> None:
    # Shown in the run's log even with output capture on, so the log names the broker.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def kafka_bootstrap(pytestconfig: pytest.Config) -> Iterator[str]:
    """Bootstrap address of a real Kafka broker for this test session."""
    named = os.environ.get("TELEMETRY_TEST_BOOTSTRAP")
    if named:
        _report(pytestconfig, f"Kafka broker from TELEMETRY_TEST_BOOTSTRAP: {named}")
        yield named
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer  # noqa: PLC0415  # only with Docker

        with KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as container:
            bootstrap = str(container.get_bootstrap_server())
            _report(pytestconfig, f"Kafka broker from testcontainers: {bootstrap}")
            yield bootstrap
        return
    kafka = LocalKafka()
    started = kafka.start()
    how = "started" if started else "already running"
    _report(
        pytestconfig,
        f"local Apache Kafka {kafka.jar_version()} ({how}) at {kafka.settings.bootstrap}",
    )
    try:
        yield kafka.settings.bootstrap
    finally:
        if started:
            kafka.stop()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names unique to this test run, readable in broker logs (test name + random suffix)."""
    base = request.node.name.split("[")[0].removeprefix("test_")[:40]

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{base}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def group_id(unique_name: Callable[[str], str]) -> str:
    return unique_name("group")


@pytest.fixture
def topic_factory(
    kafka_admin: AdminClient, unique_name: Callable[[str], str]
) -> Iterator[TopicFactory]:
    """Create uniquely named topics; they are deleted after the test."""
    created: list[str] = []

    def create(partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = unique_name("topic")
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=30,
        )
        futures[name].result(timeout=30)
        created.append(name)
        return name

    yield create
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture
def producer_factory(kafka_bootstrap: str) -> Iterator[ProducerFactory]:
    """Producers on the test broker; each is flushed when the test ends."""
    producers: list[Producer] = []

    def make(**config: Any) -> Producer:
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5, **config})
        producers.append(producer)
        return producer

    yield make
    for producer in producers:
        producer.flush(10)


@pytest.fixture
def consumer_factory(kafka_bootstrap: str, group_id: str) -> Iterator[ConsumerFactory]:
    """Consumers on the test broker (default: the test's group, earliest, manual commit)."""
    consumers: list[Consumer] = []

    def make(**config: Any) -> Consumer:
        settings: dict[str, Any] = {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
        settings.update(config)
        consumer = Consumer(settings)
        consumers.append(consumer)
        return consumer

    yield make
    for consumer in consumers:
        with contextlib.suppress(RuntimeError):  # already closed by the test
            consumer.close()
