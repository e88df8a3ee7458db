"""The pod's probes aggregated over its workers, and its own metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from telemetry.config import MetricsConfig
from telemetry.http import MetricsServer
from telemetry.pod import PodMetrics, PodView, WorkerEndpoint


class FakeWorker:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.is_alive = True
        self.is_ready = True

    def alive(self) -> bool:
        return self.is_alive

    def ready(self) -> bool:
        return self.is_ready


class Pod:
    """Two workers behind their own endpoints, and what the supervisor would report."""

    def __init__(self) -> None:
        self.workers = [FakeWorker(), FakeWorker()]
        self.servers = [MetricsServer(w, MetricsConfig(port=0)).start() for w in self.workers]
        self.ports: list[int | None] = [server.port for server in self.servers]
        self.last_beat = time.monotonic()
        self.registry = CollectorRegistry()
        self.metrics = PodMetrics(self.registry, workers=2)
        self.view = PodView(
            self.endpoints, registry=self.registry, beat=lambda: self.last_beat, probe_timeout=1.0
        )

    def endpoints(self) -> list[WorkerEndpoint]:
        return [WorkerEndpoint(index, port) for index, port in enumerate(self.ports)]

    def close(self) -> None:
        self.view.close()
        for server in self.servers:
            server.stop()


@pytest.fixture
def pod() -> Iterator[Pod]:
    running = Pod()
    try:
        yield running
    finally:
        running.close()


def test_alive_and_ready_when_every_worker_is(pod: Pod) -> None:
    assert pod.view.alive()
    assert pod.view.ready()


def test_one_worker_not_ready_makes_the_pod_not_ready_but_alive(pod: Pod) -> None:
    pod.workers[1].is_ready = False
    assert pod.view.alive()
    assert not pod.view.ready()


def test_one_stuck_worker_makes_the_pod_not_alive(pod: Pod) -> None:
    pod.workers[0].is_alive = False
    assert not pod.view.alive()


def test_a_worker_starting_or_waiting_out_its_backoff_is_not_ready_but_not_dead(pod: Pod) -> None:
    pod.ports[1] = None  # no port: starting, or dead and about to be restarted
    assert pod.view.alive()
    assert not pod.view.ready()


def test_a_worker_that_serves_a_port_but_does_not_answer_is_not_alive(pod: Pod) -> None:
    pod.servers[1].stop()
    assert not pod.view.alive()
    assert not pod.view.ready()
    assert pod.registry.get_sample_value("telemetry_worker_up", {"worker": "0"}) == 1
    assert pod.registry.get_sample_value("telemetry_worker_up", {"worker": "1"}) == 0


def test_a_stalled_supervisor_makes_the_pod_not_alive(pod: Pod) -> None:
    pod.last_beat = time.monotonic() - 11
    assert not pod.view.alive()


def test_no_workers_is_not_ready() -> None:
    view = PodView(list)
    try:
        assert view.alive()
        assert not view.ready()
    finally:
        view.close()


def test_restart_counters_exist_from_the_start(pod: Pod) -> None:
    restarts = "telemetry_worker_restarts_total"
    assert pod.registry.get_sample_value(restarts, {"worker": "0"}) == 0
    pod.metrics.restarts.labels("1").inc()
    assert pod.registry.get_sample_value(restarts, {"worker": "1"}) == 1
