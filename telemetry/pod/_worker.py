"""The worker side of ``telemetry run --workers N``.

A worker is a single-process ``telemetry run`` that the supervisor starts as
``telemetry run --config <file> --worker <index> --report-fd <fd>``: it reads the same file and
environment, serves its metrics on 127.0.0.1 on a free port for the pod alone, writes that
port to the pipe ``fd`` and drains (as on SIGTERM) if its supervisor disappears.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from telemetry.config import Config
from telemetry.pod._scrape import LOOPBACK
from telemetry.pod._supervisor import WorkerCommand

logger = logging.getLogger("telemetry.pod")

PARENT_CHECK_S = 1.0


def worker_command(config_path: str, *, connect_timeout: float) -> WorkerCommand:
    """How the supervisor starts worker ``index`` (this interpreter, this package)."""

    def command(index: int, report_fd: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "telemetry",
            "run",
            "--config",
            config_path,
            "--connect-timeout",
            f"{connect_timeout:g}",
            "--worker",
            str(index),
            "--report-fd",
            str(report_fd),
        ]

    return command


def as_worker(config: Config, index: int) -> Config:
    """Worker ``index``'s configuration.

    Its metrics port is for the pod's supervisor only: 127.0.0.1, a free port. With static
    membership each worker is its own member, ``<instance_id>-<index>``: distinct from its
    siblings (two members sharing an id fence each other) and the same across its restarts,
    so a restarted worker gets its partitions back at once; the exactly-once transactional.id
    (``<group>-<instance_id>``) derives from it, so it is distinct and stable per worker too,
    and a restarted worker fences its dead predecessor's producer."""
    processing = config.processing
    instance_id = f"{processing.instance_id}-{index}" if processing.instance_id else None
    return replace(
        config,
        processing=replace(processing, workers=1, instance_id=instance_id),
        metrics=replace(config.metrics, host=LOOPBACK, port=0),
    )


def report_port(fd: int, port: int) -> None:
    """Tell the supervisor where this worker's metrics are (one line on its pipe)."""
    try:
        os.write(fd, f"{port}\n".encode())
    except OSError as exc:  # the supervisor is gone; the watch below notices it
        logger.warning("cannot report the metrics port to the supervisor: %s", exc)
    finally:
        os.close(fd)


def watch_parent(on_orphaned: Callable[[], None], *, every: float = PARENT_CHECK_S) -> None:
    """Call ``on_orphaned`` once if this process's parent goes away (a supervisor that was
    SIGKILLed cannot forward the stop): the worker then drains, commits and exits instead of
    running on unsupervised."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        logger.error("the pod's supervisor (pid %d) is gone: draining and stopping", parent)
        on_orphaned()

    threading.Thread(target=watch, name="telemetry-parent-watch", daemon=True).start()
