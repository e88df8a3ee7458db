"""What the pod's one metrics port shows: every worker's metrics and the pod's own, and the
probes aggregated over the workers.

- ``/metrics``: each worker's series with a ``worker`` label (read on every scrape, in
  parallel, each within :data:`SCRAPE_TIMEOUT_S`), ``telemetry_worker_up`` (1: the worker
  answered this scrape) and ``telemetry_worker_restarts_total``.
- ``/healthz`` (liveness): the supervisor's loop made a pass within :data:`ALIVE_WITHIN_S`,
  and every worker that serves its endpoint answers its own ``/healthz`` with 200. A worker
  that is starting, or that died and waits out its back-off, does not fail it: the supervisor
  is bringing it back, and restarting the pod would only stop the healthy workers too. A
  worker whose loop is stuck does (the kubelet restarts the pod, as it would a single process).
- ``/readyz``: every worker serves its endpoint and answers its own ``/readyz`` with 200.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from telemetry.metrics import WORKER_UP
from telemetry.pod._scrape import merge, probe, scrape

ALIVE_WITHIN_S = 10.0
"""The supervisor's loop passes every 0.1 s; this long without one means it is stuck."""
PROBE_TIMEOUT_S = 2.0
"""Below the chart's probe timeout (3 s), so a stuck worker fails the probe, not the kubelet's
wait for the pod."""
SCRAPE_TIMEOUT_S = 5.0
"""Below Prometheus's default scrape timeout (10 s)."""


@dataclass(frozen=True)
class WorkerEndpoint:
    index: int
    port: int | None
    """The worker's metrics port on 127.0.0.1; None while it serves none (starting, or dead and
    waiting out its back-off)."""


class PodView:
    """The pod's :class:`telemetry.http.Observable`: ``registry``, ``alive()``, ``ready()``.

    ``endpoints()`` says where the workers are right now; ``beat()`` is the monotonic time of
    the supervisor's last pass (None: no supervisor to watch)."""

    def __init__(
        self,
        endpoints: Callable[[], Sequence[WorkerEndpoint]],
        *,
        registry: CollectorRegistry | None = None,
        beat: Callable[[], float] | None = None,
        probe_timeout: float = PROBE_TIMEOUT_S,
        scrape_timeout: float = SCRAPE_TIMEOUT_S,
    ) -> None:
        self._endpoints = endpoints
        self._beat = beat
        self._probe_timeout = probe_timeout
        self._scrape_timeout = scrape_timeout
        # Workers are asked in parallel: one slow worker costs one timeout, not one each.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="telemetry-pod")
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(_WorkerCollector(self))

    def alive(self) -> bool:
        if self._beat is not None and time.monotonic() - self._beat() > ALIVE_WITHIN_S:
            return False
        ports = [e.port for e in self._endpoints() if e.port is not None]
        return all(self._probe_all(ports, "/healthz"))

    def ready(self) -> bool:
        endpoints = self._endpoints()
        if not endpoints or any(e.port is None for e in endpoints):
            return False
        return all(self._probe_all([e.port for e in endpoints if e.port is not None], "/readyz"))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _probe_all(self, ports: list[int], path: str) -> Iterable[bool]:
        return self._pool.map(lambda port: probe(port, path, self._probe_timeout), ports)

    def collect(self) -> list[Metric]:
        """Every worker's families (``worker`` label) and ``telemetry_worker_up``."""
        endpoints = self._endpoints()
        serving = [e for e in endpoints if e.port is not None]
        scraped = self._pool.map(
            lambda e: scrape(e.port, self._scrape_timeout) if e.port is not None else None,
            serving,
        )
        by_worker = {
            e.index: families
            for e, families in zip(serving, scraped, strict=True)
            if families is not None
        }
        up = GaugeMetricFamily(WORKER_UP.name, WORKER_UP.documentation, labels=WORKER_UP.labels)
        for endpoint in endpoints:
            up.add_metric([str(endpoint.index)], 1.0 if endpoint.index in by_worker else 0.0)
        return [*merge(by_worker), up]


class _WorkerCollector:
    """Registered in the pod's registry; no ``describe``, so registering scrapes nothing."""

    def __init__(self, view: PodView) -> None:
        self._view = view

    def collect(self) -> list[Metric]:
        return self._view.collect()
