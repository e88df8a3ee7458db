"""The pod's parent process: it runs N workers and keeps them running.

Each worker is a single-process ``telemetry run`` (:mod:`telemetry.pod._worker`), a member of
the consumer group on its own core. A worker that dies (a crash, an OOM kill, a SIGKILL) is
started again after its back-off (:class:`~telemetry.pod.RestartBackoff`), logged as an error
and counted in ``telemetry_worker_restarts_total``; the pod stays up.

Workers run in sessions of their own, so a Ctrl-C at a terminal reaches the supervisor only,
which forwards it once. The first SIGTERM or SIGINT (the CLI routes them to
:meth:`Supervisor.request_drain`) sends every worker SIGTERM: each drains and commits as a
single ``telemetry run`` does. What has not exited ``stop_after_s`` later (the drain timeout,
the stop budget and 5 s: what the chart's terminationGracePeriodSeconds must cover) is
SIGKILLed. A second signal (:meth:`Supervisor.request_stop`) SIGKILLs every worker at once.
Signal handlers only set flags; the loop, every :data:`TICK_S`, acts on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from telemetry.metrics import PodMetrics
from telemetry.pod._backoff import RestartBackoff
from telemetry.pod._view import WorkerEndpoint

logger = logging.getLogger("telemetry.pod")

TICK_S = 0.1

WorkerCommand = Callable[[int, int], Sequence[str]]
"""(worker index, the file descriptor it reports its metrics port on) -> the worker's argv."""


@dataclass
class _Worker:
    index: int
    backoff: RestartBackoff
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    report: int | None = None  # read end of the pipe the worker writes its port to
    received: bytes = b""
    port: int | None = None
    restart_at: float | None = None
    returncode: int | None = None  # of its last process
    restarts: int = 0
    killed: bool = False


@dataclass
class _Stop:
    drain: bool = False
    kill: bool = False
    deadline: float | None = None
    killed: bool = False


class Supervisor:
    """Runs ``workers`` worker processes, built by ``command``, until asked to stop."""

    def __init__(
        self,
        workers: int,
        command: WorkerCommand,
        *,
        metrics: PodMetrics,
        stop_after_s: float,
        env: Mapping[str, str] | None = None,
        backoff: Callable[[], RestartBackoff] = RestartBackoff,
    ) -> None:
        self._command = command
        self._metrics = metrics
        self._stop_after = stop_after_s
        self._env = dict(env) if env is not None else None
        self._workers = [_Worker(index, backoff()) for index in range(workers)]
        self._stop = _Stop()
        self._beat = time.monotonic()

    # -- what the pod's endpoint and the signal handlers use ---------------------------------

    def endpoints(self) -> list[WorkerEndpoint]:
        return [WorkerEndpoint(w.index, w.port) for w in self._workers]

    def beat(self) -> float:
        """Monotonic time of the loop's last pass."""
        return self._beat

    def pids(self) -> dict[int, int]:
        """The running workers' process ids by index."""
        return {w.index: w.process.pid for w in self._workers if w.process is not None}

    def request_drain(self) -> None:
        """Drain and commit every worker, then return from :meth:`run` (signal-safe)."""
        self._stop.drain = True

    def request_stop(self) -> None:
        """SIGKILL every worker now (signal-safe)."""
        self._stop.drain = True
        self._stop.kill = True

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> dict[int, int | None]:
        """Start the workers, restart those that die, and after a drain return every
        worker's last exit code (None: it never ran)."""
        try:
            now = time.monotonic()
            for worker in self._workers:
                self._start(worker, now)
            while not (self._stop.drain and all(w.process is None for w in self._workers)):
                self._pass(time.monotonic())
                time.sleep(TICK_S)
        finally:
            for worker in self._workers:  # after an exception: leave no process behind
                self._abandon(worker)
        return {w.index: w.returncode for w in self._workers}

    def _pass(self, now: float) -> None:
        self._beat = now
        stop = self._stop
        if stop.drain and stop.deadline is None:
            self._begin_drain(now)
        if stop.kill and not stop.killed:
            stop.killed = True
            self._kill_all("stopping at once")
        elif stop.deadline is not None and now >= stop.deadline and not stop.killed:
            stop.killed = True
            self._kill_all(f"not stopped within {self._stop_after:g} s")
        for worker in self._workers:
            self._read_report(worker)
            self._reap(worker, now)
            if worker.restart_at is not None and now >= worker.restart_at and not stop.drain:
                self._restart(worker, now)

    def _start(self, worker: _Worker, now: float) -> bool:
        read, write = os.pipe()
        try:
            process = subprocess.Popen(
                list(self._command(worker.index, write)),
                pass_fds=(write,),
                start_new_session=True,
                env=self._env,
            )
        except OSError as exc:
            os.close(read)
            delay = worker.backoff.after(0.0)
            worker.restart_at = now + delay
            logger.error(  # noqa: TRY400  # the reason is in the message; no traceback
                "cannot start worker %d (%s); trying again in %.1f s",
                worker.index,
                exc,
                delay,
                extra={"worker": worker.index},
            )
            return False
        finally:
            os.close(write)  # the worker holds the write end now
        os.set_blocking(read, False)
        worker.process, worker.report, worker.received = process, read, b""
        worker.started, worker.returncode, worker.killed = now, None, False
        logger.info(
            "worker %d started (pid %d)",
            worker.index,
            process.pid,
            extra={"worker": worker.index, "pid": process.pid},
        )
        return True

    def _restart(self, worker: _Worker, now: float) -> None:
        worker.restart_at = None
        if not self._start(worker, now):
            return
        worker.restarts += 1
        self._metrics.restarts.labels(str(worker.index)).inc()
        logger.warning(
            "worker %d restarted: restart %d of this worker",
            worker.index,
            worker.restarts,
            extra={"worker": worker.index, "restarts": worker.restarts},
        )

    def _read_report(self, worker: _Worker) -> None:
        """The worker writes its metrics port, one line, once it serves it."""
        if worker.report is None:
            return
        try:
            chunk = os.read(worker.report, 64)
        except BlockingIOError:
            return
        worker.received += chunk
        if chunk and b"\n" not in worker.received:
            return  # the rest of the line is on its way
        line = worker.received.partition(b"\n")[0]
        if line.strip().isdigit():
            worker.port = int(line)
        elif line:
            logger.warning("worker %d reported %r, not a port", worker.index, line[:40])
        self._close_report(worker)

    def _reap(self, worker: _Worker, now: float) -> None:
        process = worker.process
        if process is None:
            return
        code = process.poll()
        if code is None:
            return
        worker.process, worker.port, worker.returncode = None, None, code
        self._close_report(worker)
        extra = {"worker": worker.index, "pid": process.pid, "returncode": code}
        if self._stop.drain:
            logger.info("worker %d exited (%s)", worker.index, describe_exit(code), extra=extra)
            return
        ran_for = now - worker.started
        delay = worker.backoff.after(ran_for)
        worker.restart_at = now + delay
        logger.error(
            "worker %d (pid %d) died (%s) after %.1f s; restarting it in %.1f s",
            worker.index,
            process.pid,
            describe_exit(code),
            ran_for,
            delay,
            extra=extra,
        )

    def _begin_drain(self, now: float) -> None:
        self._stop.deadline = now + self._stop_after
        running = [w for w in self._workers if w.process is not None]
        logger.info(
            "stopping %d worker(s): each drains and commits (at most %g s)",
            len(running),
            self._stop_after,
        )
        for worker in self._workers:
            worker.restart_at = None  # a dead worker stays dead now
        for worker in running:
            self._signal(worker, signal.SIGTERM)

    def _kill_all(self, why: str) -> None:
        for worker in self._workers:
            if worker.process is not None and not worker.killed:
                worker.killed = True
                logger.error("killing worker %d: %s", worker.index, why)
                self._signal(worker, signal.SIGKILL)

    @staticmethod
    def _signal(worker: _Worker, signum: signal.Signals) -> None:
        if worker.process is not None:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile; reaped next pass
                worker.process.send_signal(signum)

    def _abandon(self, worker: _Worker) -> None:
        if worker.process is not None:
            self._signal(worker, signal.SIGKILL)
            worker.returncode = worker.process.wait()
            worker.process = None
        self._close_report(worker)

    @staticmethod
    def _close_report(worker: _Worker) -> None:
        if worker.report is not None:
            os.close(worker.report)
            worker.report = None


def describe_exit(code: int) -> str:
    """``exit code 1``, ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def clean_exit(code: int | None) -> bool:
    """A worker that drained and exited 0, or that was still starting (no signal handler yet,
    so nothing consumed) when the drain's SIGTERM ended it."""
    return code in (0, -signal.SIGTERM)
