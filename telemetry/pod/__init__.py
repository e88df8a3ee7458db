"""Several group members in one pod: ``telemetry run --workers N``.

A Python member uses one core (the GIL), so a pod with N cores runs N of them, one process
each: the :class:`Supervisor` starts N single-process ``telemetry run`` workers, restarts one
that dies (with a back-off, :class:`RestartBackoff`), forwards SIGTERM so that every worker
drains and commits, and serves the pod's one metrics port through a :class:`PodView`: every
worker's series with a ``worker`` label, and ``/healthz`` and ``/readyz`` over all of them.
``--workers 1`` (the default) runs no supervisor: the member runs in the process itself.
"""

from telemetry.metrics import PodMetrics
from telemetry.pod._backoff import RestartBackoff
from telemetry.pod._supervisor import Supervisor, WorkerCommand, clean_exit, describe_exit
from telemetry.pod._view import PodView, WorkerEndpoint
from telemetry.pod._worker import as_worker, report_port, watch_parent, worker_command

__all__ = [
    "PodMetrics",
    "PodView",
    "RestartBackoff",
    "Supervisor",
    "WorkerCommand",
    "WorkerEndpoint",
    "as_worker",
    "clean_exit",
    "describe_exit",
    "report_port",
    "watch_parent",
    "worker_command",
]
