"""A second local broker on free ports starts, answers, and stops leaving no process behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tools.localkafka import KAFKA_VERSION, LocalKafka, LocalKafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_start_then_stop_leaves_no_process(tmp_path: Path) -> None:
    shared_cache = LocalKafkaSettings.from_env().cache_dir  # reuse the jars, not the state
    port = _free_port()
    settings = LocalKafkaSettings.from_env(
        {
            "TELEMETRY_KAFKA_PORT": str(port),
            "TELEMETRY_KAFKA_CONTROLLER_PORT": str(_free_port()),
            "TELEMETRY_KAFKA_CACHE": str(shared_cache),
            "TELEMETRY_KAFKA_HOME": str(tmp_path / "broker"),
            "TELEMETRY_KAFKA_HEAP": "-Xms128m -Xmx256m",
        }
    )
    kafka = LocalKafka(settings)
    assert kafka.start(fresh=True) is True
    pid = kafka.pid()
    assert pid is not None
    try:
        assert kafka.jar_version() == KAFKA_VERSION
        assert kafka.start() is False, "a second start must reuse the running broker"
        metadata = AdminClient({"bootstrap.servers": settings.bootstrap}).list_topics(timeout=10)
        assert [b.port for b in metadata.brokers.values()] == [port]
    finally:
        assert kafka.stop() is True
    assert not Path(f"/proc/{pid}").exists(), "the broker process outlived stop"
    assert kafka.pid() is None
    assert not kafka.is_running()
    assert kafka.stop() is False
