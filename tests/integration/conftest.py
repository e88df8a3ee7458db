"""Fixtures of the fault scenarios: topics and ``telemetry run`` configs on the real broker."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.config import load_config
from telemetry.kafka import ensure_topics
from tests.integration.workers import worker_config
from tools.localkafka import LocalKafka, LocalKafkaSettings

PARTITIONS = 6

ScenarioFactory = Callable[..., tuple[Path, str]]


@pytest.fixture
def make_scenario(
    tmp_path: Path, kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> Iterator[ScenarioFactory]:
    """Topics and a worker config (keywords of :func:`worker_config`); deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    prefixes: list[str] = []

    def make(**overrides: Any) -> tuple[Path, str]:
        prefix = unique_name("state")
        prefixes.append(prefix)
        config = worker_config(
            tmp_path / f"{prefix}.yaml",
            bootstrap=kafka_bootstrap,
            prefix=prefix,
            partitions=PARTITIONS,
            **overrides,
        )
        assert ensure_topics(admin, load_config(config), create=True, out=lambda _: None)
        return config, prefix

    yield make
    names = [
        name
        for prefix in prefixes
        for name in (
            *(f"{prefix}.{t}" for t in ("readings", "rollups", "alerts", "deadletter")),
            f"{prefix}-state-changelog",
        )
    ]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own on free ports, to be restarted without disturbing others."""
    shared_cache = LocalKafkaSettings.from_env().cache_dir  # the jars, not the state
    ports = []
    for _ in range(2):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    kafka = LocalKafka(
        LocalKafkaSettings.from_env(
            {
                "TELEMETRY_KAFKA_PORT": str(ports[0]),
                "TELEMETRY_KAFKA_CONTROLLER_PORT": str(ports[1]),
                "TELEMETRY_KAFKA_CACHE": str(shared_cache),
                "TELEMETRY_KAFKA_HOME": str(tmp_path / "broker"),
                "TELEMETRY_KAFKA_HEAP": "-Xms128m -Xmx384m",
            }
        )
    )
    kafka.start(fresh=True)
    try:
        yield kafka
    finally:
        kafka.stop()
