"""``telemetry run`` worker processes for fault scenarios: start, watch, kill, and read what
the group published."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from confluent_kafka import Consumer, Producer, TopicPartition

from telemetry.app import App
from telemetry.codec import Encoder, LocalSchemaSource, RecordDecoder
from tests.integration.fleet_oracle import (
    LATENESS_MS,
    OVERHEAT,
    SILENT,
    Reading,
    compare,
    expected_alerts,
    expected_rollups,
)

TELEMETRY = [sys.executable, "-m", "telemetry", "run"]


def worker_config(
    path: Path,
    *,
    bootstrap: str,
    prefix: str,
    partitions: int,
    extra: str = "",
    windows: str | None = None,
    rules: str | None = None,
    processing: str = "",
) -> Path:
    """A config for the fleet of :mod:`tests.integration.fleet_oracle` (windows, rules).

    ``windows`` and ``rules`` replace the fleet's (YAML flow lists), ``processing`` adds
    ``processing`` keys (YAML lines), ``extra`` adds top-level sections."""
    if windows is None:
        windows = (
            "[{kind: tumbling, size_ms: 2000}, {kind: hopping, size_ms: 4000, advance_ms: 2000}]"
        )
    if rules is None:
        rules = (
            f"[{{kind: threshold, name: {OVERHEAT.name}, sensor: temp, "
            f"raise_at: {OVERHEAT.raise_at}, clear_at: {OVERHEAT.clear_at}, "
            f"debounce: {OVERHEAT.debounce}}}, "
            f"{{kind: silent, name: {SILENT.name}, sensor: temp, after_ms: {SILENT.after_ms}, "
            f"severity: {SILENT.severity}}}]"
        )
    if "session_timeout_ms" not in processing:
        processing += "\nsession_timeout_ms: 6000"
    overrides = "".join(f"  {line.strip()}\n" for line in processing.strip().splitlines())
    path.write_text(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap_servers: "{bootstrap}"}}
            topics:
              readings: {prefix}.readings
              rollups: {prefix}.rollups
              alerts: {prefix}.alerts
              deadletter: {prefix}.deadletter
              partitions: {partitions}
              retention_ms: 3600000
            processing:
              group_id: {prefix}
              windows: {windows}
              rules: {rules}
              allowed_lateness_ms: {LATENESS_MS}
              idle_timeout_ms: 1000
              max_past_ms: 630720000000
              commit_interval_s: 0.5
              drain_timeout_s: 10
            """
        )
        + overrides
        + textwrap.dedent(extra)
        + "metrics: {port: 0}\nlog: {format: json, level: INFO}\n"
    )
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TELEMETRY_")}


@dataclass
class Worker:
    """One ``telemetry run`` process; its JSON log lines are collected as they come."""

    name: str
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # more `telemetry run` flags, e.g. ("--workers", "2")
    proc: subprocess.Popen[str] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    url: str | None = None
    reader: threading.Thread | None = None

    def start(self) -> Worker:
        self.proc = subprocess.Popen(
            [*TELEMETRY, "--config", str(self.config), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**_env(), **self.env},
        )
        self.reader = threading.Thread(target=self._read, name=f"{self.name}-log", daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60
        while self.url is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        assert self.url is not None, f"{self.name}: no metrics_url logged: {self.lines[-5:]}"
        return self

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"message": line.rstrip()}
            self.lines.append(entry)
            if self.url is None and "metrics_url" in entry:
                self.url = entry["metrics_url"]

    def metric(self, name: str, labels: str = "") -> float:
        assert self.url is not None
        assert self.url.startswith("http://127.0.0.1:")
        with urlopen(self.url, timeout=5) as response:  # noqa: S310 - local http, checked
            body = response.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line.startswith(name + labels) and not line.startswith("#")
        )

    def assigned(self) -> int:
        return int(self.metric("telemetry_kafka_assigned_partitions"))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        # The process is gone: its log pipe ends, the reader finishes, the pipe is closed.
        if self.reader is not None:
            self.reader.join(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (drain and commit); SIGKILL if it does not exit within ``timeout``."""
        proc = self.proc
        if proc is None:
            return None
        code: int | None = proc.poll()
        if code is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                code = None
        self._close()
        return code

    def logged(self, fragment: str) -> list[dict[str, Any]]:
        return [e for e in self.lines if fragment in str(e.get("message", ""))]


class Running:
    """An in-process :class:`~telemetry.app.App` run on a thread; what it raised is kept."""

    def __init__(self, app: App, name: str = "app") -> None:
        self.app = app
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name=name)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.app.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.failure.append(exc)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop"

    def drain(self, timeout: float = 60.0) -> None:
        self.app.request_drain()
        self.join(timeout)


@contextmanager
def logs_on_failure(*workers: Worker, tail: int = 60) -> Iterator[None]:
    """Print the last log lines of ``workers`` when the block fails (CI shows them)."""
    try:
        yield
    except AssertionError:
        for worker in workers:
            for line in worker.lines[-tail:]:
                print(worker.name, line.get("ts", ""), line.get("message", "")[:400])  # noqa: T201
        raise


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


class Feeder:
    """Produces readings at a steady rate from a thread; ``sent`` counts delivered ones."""

    def __init__(self, bootstrap: str, topic: str, readings: list[Reading], rate: float) -> None:
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
        )
        self.topic = topic
        self.readings = readings
        self.rate = rate
        self.produced = 0
        self._encoder = Encoder(LocalSchemaSource().schema_ids)
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        for i, reading in enumerate(self.readings):
            due = started + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            value = self._encoder.encode(2, reading)
            while True:
                try:
                    self.producer.produce(self.topic, value, reading["device_id"])
                    break
                except BufferError:
                    self.producer.poll(0.05)
            self.produced = i + 1
            if i % 1000 == 0:
                self.producer.poll(0)
        self.producer.flush(60)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the feeder did not finish"


def read_outputs(
    bootstrap: str, topics: Iterable[str], partitions: int, settle: float = 3.0
) -> dict[str, list[Reading]]:
    """Everything published to ``topics`` so far, decoded (read until ``settle`` s of quiet)."""
    decoder = RecordDecoder(LocalSchemaSource())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "oracle-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    out: dict[str, list[Reading]] = {}
    try:
        for topic in topics:
            consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)
            }
            rows: list[Reading] = []
            deadline = time.monotonic() + 60
            # Positions, not the offsets of the messages read: a transaction's commit marker
            # takes an offset of its own and is never delivered.
            while time.monotonic() < deadline:
                for message in consumer.consume(num_messages=5_000, timeout=settle / 3):
                    assert message.error() is None, message.error()
                    rows.append(decoder.decode(message.value() or b"")[1])
                positions = consumer.position([TopicPartition(topic, p) for p in ends])
                if all(
                    ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions
                ):
                    break
            out[topic] = rows
            consumer.unassign()
    finally:
        consumer.close()
    return out


def complete_outputs(
    bootstrap: str, prefix: str, readings: list[Reading], partitions: int, timeout: float
) -> dict[str, Any]:
    """Read the outputs until every expected rollup and alert is there (or ``timeout``); the
    oracle's report (:func:`tests.integration.fleet_oracle.compare`)."""
    want_rollups = len(expected_rollups(readings))
    want_alerts = len(expected_alerts(readings))
    deadline = time.monotonic() + timeout
    while True:
        out = read_outputs(bootstrap, [f"{prefix}.rollups", f"{prefix}.alerts"], partitions)
        rollups, alerts = out[f"{prefix}.rollups"], out[f"{prefix}.alerts"]
        report = compare(rollups, alerts, readings)
        done = (
            report["missing_rollups_n"] == 0 and report["missing_alerts_n"] == 0
        ) or time.monotonic() > deadline
        if done:
            report["rollups_read"] = len(rollups)
            report["alerts_read"] = len(alerts)
            assert report["expected_rollups"] == want_rollups
            assert report["expected_alerts"] == want_alerts
            return report
        time.sleep(2.0)


def assert_exact(report: dict[str, Any]) -> None:
    """Nothing missing, nothing unexpected, no wrong values; duplicates only identical ones."""
    failures = {
        k: report[k]
        for k in (
            "missing_rollups",
            "unexpected_rollups",
            "wrong_values",
            "republished_differently",
            "missing_alerts",
            "unexpected_alerts",
        )
        if report[k]
    }
    assert not failures, failures
