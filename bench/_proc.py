"""Starting and stopping the processes under test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from bench._common import RESULTS, ROOT, delete_topics, free_port, metric, scrape, topic_exists
from bench.w1 import config_yaml

PYTHON = sys.executable
TELEMETRY = str(Path(PYTHON).with_name("telemetry"))


class Outputs:
    """Fresh output topic names and consumer group of one run."""

    def __init__(self, scenario: str) -> None:
        tag = f"{scenario}-{uuid.uuid4().hex[:8]}"
        self.group = f"bench-{tag}"
        self.rollups = f"bench.out.{tag}.rollups"
        self.alerts = f"bench.out.{tag}.alerts"
        self.deadletter = f"bench.out.{tag}.deadletter"

    @property
    def topics(self) -> tuple[str, str, str]:
        return self.rollups, self.alerts, self.deadletter

    @property
    def changelog(self) -> str:
        """The state changelog the processor creates for itself (``topics.changelog``'s
        default, derived from the group id; see ``telemetry.config.Config.changelog_topic``)."""
        return f"{self.group}-state-changelog"


def delete_outputs(bootstrap: str, out: Outputs, *others: str) -> None:
    """Delete ``out``'s topics, ``others``, and the changelog its processor made (if any)."""
    changelog = (out.changelog,) if topic_exists(bootstrap, out.changelog) else ()
    delete_topics(bootstrap, *out.topics, *others, *changelog)


def write_config(
    bootstrap: str,
    readings: str,
    out: Outputs,
    *,
    changelog: bool = True,
    processing: Mapping[str, object] | None = None,
) -> tuple[Path, int]:
    """A processor config for ``readings`` -> ``out``; returns its path and metrics port."""
    port = free_port()
    text = config_yaml(
        bootstrap,
        readings,
        out.rollups,
        out.alerts,
        out.deadletter,
        out.group,
        port,
        changelog=changelog,
        processing=processing,
    )
    fd, name = tempfile.mkstemp(prefix="bench-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(name), port


def start(argv: list[str], log_name: str, *, stdout_pipe: bool = False) -> subprocess.Popen[str]:
    """Start ``argv`` from the repo root; its stderr (and stdout unless piped) go to a log."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / log_name).open("w")
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE if stdout_pipe else log,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stop(process: subprocess.Popen[str], timeout: float = 60.0) -> int:
    """SIGTERM (drain and commit), then SIGKILL after ``timeout``; return the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode


def first_consumed(process: subprocess.Popen[str], port: int, timeout: float = 120.0) -> float:
    """``time.monotonic()`` when the processor's consumed counter first went above zero."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"processor exited with {process.returncode} before consuming")
        if metric(scrape(port, 0.5), "telemetry_kafka_consumed_messages_total") > 0:
            return time.monotonic()
        time.sleep(0.005)
    raise RuntimeError(f"processor consumed nothing within {timeout:.0f} s")


def wait_ready(process: subprocess.Popen[str], port: int, timeout: float = 120.0) -> None:
    """Until the processor has partitions assigned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"processor exited with {process.returncode}")
        if metric(scrape(port, 0.5), "telemetry_kafka_assigned_partitions") > 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"processor not assigned within {timeout:.0f} s")
