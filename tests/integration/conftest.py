"""Fixtures of the fault scenarios: topics and ``telemetry run`` configs on the real broker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.cli import ensure_topics
from telemetry.config import load_config
from tests.integration.workers import worker_config

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
