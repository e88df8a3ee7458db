"""The ``telemetry`` command as a user runs it: subprocesses, exit codes, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from confluent_kafka import TopicPartition

from tests.conftest import ConsumerFactory, TopicFactory

TELEMETRY = [sys.executable, "-m", "telemetry"]
DRAIN_TIMEOUT_S = 10.0

BAD_CONFIGS = [
    (
        "kafak: {}\n",
        "kafak: unknown section (known: kafka, topics, schemas, processing, metrics, log, sinks)",
    ),
    ("kafka: {bootstrap: x}\n", "kafka.bootstrap: unknown key (known: bootstrap_servers, "),
    (
        "topics: {partitions: eight}\n",
        "topics.partitions: expected an integer, got a string 'eight'",
    ),
    ("metrics: {port: 70000}\n", "metrics.port: must be in 0..65535 (0 picks a free port)"),
    ("log: {format: xml}\n", "log.format: must be one of auto, json, text; got 'xml'"),
    (
        (
            "processing:\n  windows:\n    - {kind: tumbling, size_ms: 5000}\n"
            "    - {kind: hopping, size_ms: 10000, advance_ms: 20000}\n"
        ),
        "processing.windows[1].advance_ms: must be <= size_ms (10000)",
    ),
    (
        "processing:\n  rules:\n    - {kind: threshold, name: hot, sensor: t, raise_at: 1}\n",
        "processing.rules[0].clear_at: missing (required for a threshold rule)",
    ),
    ("kafka: {sasl_password_file: /nonexistent/secret}\n", "kafka.sasl_password_file: cannot read"),
    ("kafka: [\n", "line 2, column 1"),
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMETRY_")}
    env.update(extra)
    return env


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_bad_config_one_line_exit_2(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = subprocess.run(
        [*TELEMETRY, "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("telemetry: config error: ")
    assert message in lines[0]


def test_bad_env_override_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("")
    result = subprocess.run(
        [*TELEMETRY, "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(TELEMETRY_PROCESSING__MAX_DEMAND="lots"),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "telemetry: config error: processing.max_demand (from TELEMETRY_PROCESSING__MAX_DEMAND):"
        " expected an integer, got 'lots'\n"
    )


@pytest.mark.parametrize("command", [[], ["run"], ["simulate"], ["topics"], ["demo"]])
def test_help_works_for_every_command(command: list[str]) -> None:
    result = subprocess.run(
        [*TELEMETRY, *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: telemetry")


@pytest.mark.parametrize("command", ["run", "topics"])
def test_unreachable_broker_one_line_exit_1(tmp_path: Path, command: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("kafka: {bootstrap_servers: '127.0.0.1:1'}\n")
    started = time.monotonic()
    result = subprocess.run(
        [*TELEMETRY, command, "--config", str(path), "--connect-timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stderr.startswith(
        "telemetry: error: cannot reach Kafka at 127.0.0.1:1 within 2 s"
    ), result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--bootstrap", "127.0.0.1:1"], {}),
        ([], {"TELEMETRY_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}),
    ],
)
def test_demo_without_a_broker_says_how_to_start_one(flags: list[str], env: dict[str, str]) -> None:
    # The demo no longer starts a broker itself (make demo does): it must say what to run.
    result = subprocess.run(
        [*TELEMETRY, "demo", *flags, "--connect-timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(**env),
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "telemetry: error: cannot reach Kafka at 127.0.0.1:1 within 2 s"
    ), result.stderr
    assert "`make demo` starts the local one" in result.stderr
    assert "`scripts/kafka-local start`" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_missing_output_topic_is_one_line_exit_2(
    tmp_path: Path, kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    readings = topic_factory(1)
    path = tmp_path / "config.yaml"
    path.write_text(
        f"kafka: {{bootstrap_servers: '{kafka_bootstrap}'}}\n"
        f"topics: {{readings: {readings}, rollups: {readings}, alerts: nowhere.alerts,"
        f" deadletter: {readings}}}\n"
    )
    result = subprocess.run(
        [*TELEMETRY, "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "telemetry: config error: missing topic(s): topics.alerts (nowhere.alerts)"
    ), result.stderr
    assert len(result.stderr.splitlines()) == 1


SECRET = "s3cr3t-never-shown"  # noqa: S105 - a test's secret: it must not appear anywhere


def _config(tmp_path: Path, bootstrap: str, unique_name: Callable[[str], str]) -> Path:
    """A run on the plain broker with secrets set anyway (the clients ignore them): they must
    not show up in a log line, not even librdkafka's config dump, nor in a metric."""
    prefix = unique_name("cli")
    path = tmp_path / "config.yaml"
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    path.write_text(
        textwrap.dedent(
            f"""
            kafka:
              bootstrap_servers: "{bootstrap}"
              sasl_username: someone
              sasl_password_file: {secret}
              ssl_key_password_file: {secret}
              extra: {{debug: conf}}
            topics:
              readings: {prefix}.readings
              rollups: {prefix}.rollups
              alerts: {prefix}.alerts
              deadletter: {prefix}.deadletter
              partitions: 3
              retention_ms: 3600000
            processing:
              group_id: {prefix}
              windows: [{{kind: tumbling, size_ms: 2000}}]
              rules:
                - {{kind: threshold, name: hot, sensor: temperature, raise_at: 40, clear_at: 35}}
              allowed_lateness_ms: 500
              idle_timeout_ms: 1000
              commit_interval_s: 1.0
              drain_timeout_s: {DRAIN_TIMEOUT_S}
            metrics: {{port: 0}}
            log: {{format: json, level: INFO}}
            """
        )
    )
    return path


def _telemetry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TELEMETRY, *args], capture_output=True, text=True, timeout=120, env=_env(), check=False
    )


def _open(url: str, timeout: float) -> Any:
    assert url.startswith("http://127.0.0.1:")
    return urlopen(url, timeout=timeout)  # noqa: S310  # checked above: local http only


def _metric(url: str, name: str) -> float:
    with _open(url, timeout=5) as response:
        body = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_topics_simulate_run_and_sigterm_drains_and_commits(
    tmp_path: Path,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    consumer_factory: ConsumerFactory,
) -> None:
    config = _config(tmp_path, kafka_bootstrap, unique_name)
    check = _telemetry("topics", "--config", str(config), "--check")
    assert check.returncode == 1
    assert check.stdout.count("MISSING") == 5
    created = _telemetry("topics", "--config", str(config))
    assert created.returncode == 0, created.stderr
    assert created.stdout.count("created") == 5
    assert created.stdout.count("cleanup.policy=delete") == 4
    assert "-state-changelog: 3 partitions, replication 1, cleanup.policy=compact" in (
        created.stdout
    )
    check = _telemetry("topics", "--config", str(config), "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("ok") == 5

    total = 3_000
    sim = _telemetry(
        "simulate", "--config", str(config), "--count", str(total), "--rate", "0", "--seed", "4"
    )
    assert sim.returncode == 0, sim.stderr
    assert f"sent {total} records" in sim.stderr
    assert len(sim.stderr.splitlines()) == 1  # not a terminal: one summary line

    proc = subprocess.Popen(
        [*TELEMETRY, "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            entry = json.loads(line)  # JSON lines: stderr is not a terminal
            url = entry.get("metrics_url")
        assert url is not None, "no metrics_url logged"
        logged: list[str] = []
        stderr = proc.stderr
        reader = threading.Thread(target=lambda: logged.extend(stderr), daemon=True)
        reader.start()  # a full pipe would block the process
        base = url.removesuffix("/metrics")
        consumed = 0.0
        deadline = time.monotonic() + 90
        while consumed < total and time.monotonic() < deadline:
            time.sleep(0.5)
            consumed = _metric(url, "telemetry_kafka_consumed_messages_total")
        assert consumed >= total
        with _open(base + "/healthz", timeout=5) as response:
            assert response.status == 200
        with _open(base + "/readyz", timeout=5) as response:
            assert response.status == 200
        assert _metric(url, "telemetry_build_info") == 1.0
        deadline = time.monotonic() + 30  # windows close once the idle clock passes them
        while _metric(url, "telemetry_rollups_total") == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _metric(url, "telemetry_rollups_total") > 0

        with _open(url, timeout=5) as response:
            metrics = response.read().decode()
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=DRAIN_TIMEOUT_S + 15)
        assert time.monotonic() - started < DRAIN_TIMEOUT_S + 15
        reader.join(10)
        assert code == 0, logged[-20:]
        assert any("sasl.username" in line for line in logged)  # the config was dumped
        assert not [line for line in logged if SECRET in line]
        assert SECRET not in metrics
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()

    group = config.read_text().split("group_id: ")[1].split()[0]
    readings = f"{group}.readings"
    consumer = consumer_factory(**{"group.id": group})
    partitions = [TopicPartition(readings, p) for p in range(3)]
    committed = [tp.offset for tp in consumer.committed(partitions, timeout=10)]
    ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
    assert sum(ends) == total
    # Drained, checkpointed and committed: windows still open at shutdown live on in the
    # changelog, so the commit is the consumed position, the end of every partition.
    assert committed == ends
