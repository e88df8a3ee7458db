"""The local broker's settings and its refusal to start on a taken port (no broker needed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.localkafka import (
    LocalKafka,
    LocalKafkaError,
    LocalKafkaSettings,
    api_versions_ok,
    main,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_defaults_listen_on_loopback_9092(tmp_path: Path) -> None:
    settings = LocalKafkaSettings.from_env({"TELEMETRY_KAFKA_CACHE": str(tmp_path)})
    assert settings.bootstrap == "127.0.0.1:9092"
    assert settings.controller_port == 9093
    assert settings.home == tmp_path / "run-9092"
    assert settings.libs_dir.is_relative_to(tmp_path)


def test_port_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"TELEMETRY_KAFKA_PORT": "19092", "TELEMETRY_KAFKA_CACHE": str(tmp_path)}
    settings = LocalKafkaSettings.from_env(env)
    assert settings.bootstrap == "127.0.0.1:19092"
    assert settings.controller_port == 19093


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEMETRY_KAFKA_PORT": "kafka"}, "is not a port number"),
        ({"TELEMETRY_KAFKA_PORT": "70000"}, "outside 1..65535"),
        ({"TELEMETRY_KAFKA_PORT": "9000", "TELEMETRY_KAFKA_CONTROLLER_PORT": "9000"}, "differ"),
    ],
)
def test_bad_ports_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(LocalKafkaError, match=message):
        LocalKafkaSettings.from_env(env)


def test_start_refuses_a_port_taken_by_something_else(
    listening_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TELEMETRY_KAFKA_PORT", str(listening_port))
    monkeypatch.setenv("TELEMETRY_KAFKA_CACHE", str(tmp_path))
    with pytest.raises(LocalKafkaError, match=f"port 127.0.0.1:{listening_port} is taken"):
        LocalKafka().start()
    # The command line says the same in one line and exits non-zero, without a traceback.
    assert main(["start"]) == 1
    err = capsys.readouterr().err
    assert "is taken by another process" in err
    assert "Traceback" not in err
    assert not (tmp_path / f"run-{listening_port}" / "kafka.pid").exists()


def test_a_plain_tcp_server_is_not_mistaken_for_kafka(listening_port: int) -> None:
    assert not api_versions_ok("127.0.0.1", listening_port, timeout=0.5)


def test_the_launcher_is_dev_tooling_not_a_product_error() -> None:
    import telemetry  # noqa: PLC0415  # only to compare the error trees

    assert not issubclass(LocalKafkaError, telemetry.TelemetryError)
    assert not hasattr(telemetry, "LocalKafkaError")


def test_kafka_local_runs_on_a_bare_interpreter(tmp_path: Path) -> None:
    # scripts/kafka-local runs before .venv exists: with -S there are no site-packages at all,
    # so the launcher must import nothing but the standard library (and never telemetry).
    code = "import sys, tools.localkafka; print(sorted(m for m in sys.modules if 'telemetry' in m))"
    env = {"PATH": os.environ.get("PATH", ""), "TELEMETRY_KAFKA_CACHE": str(tmp_path)}
    imported = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert imported.stdout.strip() == "[]"
    script = subprocess.run(
        [sys.executable, "-S", "-m", "tools.localkafka", "bootstrap"],
        cwd=ROOT,
        env={**env, "TELEMETRY_KAFKA_PORT": "19092"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert script.stdout == "127.0.0.1:19092\n"
