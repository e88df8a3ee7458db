"""The supervisor with stand-in workers: tiny processes that report a port and wait, so the
restarts, the back-off and the stop are real processes and signals, each test in seconds."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from prometheus_client import CollectorRegistry

from telemetry.pod import PodMetrics, RestartBackoff, Supervisor, clean_exit, describe_exit

# argv: report fd, mode. "serve": report port 4242, exit 0 on SIGTERM; "stubborn": ignore
# SIGTERM; "crash": exit 3 at once, reporting nothing.
STAND_IN = """
import os, signal, sys, time
fd, mode = int(sys.argv[1]), sys.argv[2]
if mode == "crash":
    sys.exit(3)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else lambda *_: sys.exit(0))
os.write(fd, b"4242\\n")
os.close(fd)
while True:
    time.sleep(0.02)
"""


def command(*modes: str) -> Callable[[int, int], list[str]]:
    return lambda index, fd: [sys.executable, "-c", STAND_IN, str(fd), modes[index]]


class Running:
    def __init__(self, supervisor: Supervisor, registry: CollectorRegistry) -> None:
        self.supervisor = supervisor
        self.registry = registry
        self.codes: dict[int, int | None] = {}
        self.thread = threading.Thread(target=self._run, name="supervisor")
        self.thread.start()

    def _run(self) -> None:
        self.codes = self.supervisor.run()

    def restarts(self, worker: int) -> float | None:
        labels = {"worker": str(worker)}
        return self.registry.get_sample_value("telemetry_worker_restarts_total", labels)

    def serving(self) -> bool:
        return all(e.port == 4242 for e in self.supervisor.endpoints())

    def join(self, timeout: float = 10.0) -> dict[int, int | None]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the supervisor did not return"
        return self.codes


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextmanager
def supervising(
    *modes: str, stop_after_s: float = 10.0, first_backoff: float = 0.05
) -> Iterator[Running]:
    registry = CollectorRegistry()
    supervisor = Supervisor(
        len(modes),
        command(*modes),
        metrics=PodMetrics(registry, len(modes)),
        stop_after_s=stop_after_s,
        backoff=lambda: RestartBackoff(first=first_backoff, cap=0.4),
    )
    running = Running(supervisor, registry)
    try:
        yield running
    finally:
        supervisor.request_stop()
        running.join()


def test_a_drain_stops_every_worker_cleanly() -> None:
    with supervising("serve", "serve") as pod:
        wait_for(pod.serving, "both workers to report their port")
        assert sorted(pod.supervisor.pids()) == [0, 1]
        pod.supervisor.request_drain()
        assert pod.join() == {0: 0, 1: 0}
        assert pod.restarts(0) == pod.restarts(1) == 0


def test_a_killed_worker_is_restarted_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telemetry.pod")
    with supervising("serve", "serve") as pod:
        wait_for(pod.serving, "both workers to report their port")
        first = pod.supervisor.pids()[1]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: pod.restarts(1) == 1, "worker 1's restart")
        wait_for(pod.serving, "the restarted worker to report its port")
        assert pod.supervisor.pids()[1] != first
        assert pod.restarts(0) == 0
        pod.supervisor.request_drain()
        assert pod.join() == {0: 0, 1: 0}
    died = [r for r in caplog.records if "died" in r.getMessage()]
    assert len(died) == 1
    assert died[0].levelno == logging.ERROR
    assert f"worker 1 (pid {first}) died (killed by SIGKILL)" in died[0].getMessage()
    restarted = "worker 1 restarted: restart 1 of this worker"
    assert any(r.getMessage() == restarted for r in caplog.records)


def test_a_crash_loop_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telemetry.pod")
    with supervising("serve", "crash") as pod:
        wait_for(lambda: (pod.restarts(1) or 0) >= 5, "five restarts of the crashing worker")
        pod.supervisor.request_drain()
        codes = pod.join()
    delays = [r.args[-1] for r in caplog.records if "died" in r.getMessage()]  # type: ignore[index]
    assert delays[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]
    assert codes[0] == 0
    assert codes[1] == 3  # it had died: the pod does not exit cleanly
    assert not clean_exit(codes[1])


def test_a_worker_that_ignores_sigterm_is_killed_at_the_deadline() -> None:
    with supervising("serve", "stubborn", stop_after_s=0.5) as pod:
        wait_for(pod.serving, "both workers to report their port")
        asked = time.monotonic()
        pod.supervisor.request_drain()
        codes = pod.join()
        took = time.monotonic() - asked
    assert codes == {0: 0, 1: -signal.SIGKILL}
    assert 0.5 <= took < 3.0


def test_a_second_signal_kills_every_worker_at_once() -> None:
    with supervising("stubborn", "stubborn", stop_after_s=60.0) as pod:
        wait_for(pod.serving, "both workers to report their port")
        pod.supervisor.request_drain()
        time.sleep(0.2)
        pod.supervisor.request_stop()
        assert pod.join(timeout=5.0) == {0: -signal.SIGKILL, 1: -signal.SIGKILL}


def test_the_supervisor_loop_beats() -> None:
    with supervising("serve") as pod:
        wait_for(pod.serving, "the worker to report its port")
        assert time.monotonic() - pod.supervisor.beat() < 1.0


def test_exit_descriptions() -> None:
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(2) == "exit code 2"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert clean_exit(0)
    assert clean_exit(-signal.SIGTERM)  # ended by the drain's SIGTERM before it had begun
    assert not clean_exit(1)
    assert not clean_exit(None)
