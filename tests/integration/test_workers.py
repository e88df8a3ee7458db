"""``telemetry run --workers 2`` on the real broker: one pod, two members of the group.

One worker is SIGKILLed mid-stream; the pod restarts it (static membership: it rejoins as the
same member, ``<instance_id>-1``, and gets its partitions back) and stays up. Every rollup and
alert is then checked against the exact oracle (:mod:`tests.integration.fleet_oracle`):
nothing missing, at-least-once duplicates identical. The pod's one ``/metrics`` shows both
workers' series with the ``worker`` label and one restart; SIGTERM drains both, exit 0.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import FleetShape, fleet
from tests.integration.workers import (
    Feeder,
    Worker,
    assert_exact,
    complete_outputs,
    logs_on_failure,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

RATE = 10_000.0


def _get(url: str) -> tuple[int, str]:
    assert url.startswith("http://127.0.0.1:")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def _by_worker(pod: Worker, sample: str, **labels: str) -> dict[str, float]:
    """``sample``'s value per ``worker`` label (summed over its other labels) in the pod's
    exposition."""
    assert pod.url is not None
    status, body = _get(pod.url)
    assert status == 200
    values: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == sample and labels.items() <= s.labels.items():
                values[s.labels["worker"]] += s.value
    return dict(values)


def _shared(pod: Worker) -> bool:
    """Both workers own partitions, all of them between the two."""
    assigned = _by_worker(pod, "telemetry_kafka_assigned_partitions", stage="source")
    return (
        sorted(assigned) == ["0", "1"]
        and min(assigned.values()) > 0
        and (sum(assigned.values()) == PARTITIONS)
    )


def _pid(pod: Worker, index: int) -> int:
    """The newest process of worker ``index``, from the supervisor's log."""
    started = [e for e in pod.logged(f"worker {index} started") if e.get("worker") == index]
    assert started, pod.lines[-10:]
    pid: int = started[-1]["pid"]
    return pid


def test_a_pod_of_two_workers_restarts_a_killed_one_and_loses_nothing(
    make_scenario: ScenarioFactory, kafka_bootstrap: str
) -> None:
    config, prefix = make_scenario(processing="instance_id: pod-a")
    readings = fleet(FleetShape(devices=500))
    pod = Worker("pod", config, args=("--workers", "2")).start()
    code: int | None = None
    report: dict[str, Any] = {}
    try:
        with logs_on_failure(pod):
            wait_for(lambda: _shared(pod), 60, "both workers to share the partitions")
            feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
            wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
            victim = _pid(pod, 1)
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            wait_for(lambda: _pid(pod, 1) != victim, 30, "the pod to start worker 1 again")
            wait_for(lambda: _shared(pod), 60, "the restarted worker to own partitions again")
            back = time.monotonic() - killed
            feeder.join(60)
            report = complete_outputs(kafka_bootstrap, prefix, readings, PARTITIONS, timeout=60)
            print(f"SIGKILL -> worker 1 consuming again: {back:.1f} s; {report}")  # noqa: T201

            assert _by_worker(pod, "telemetry_worker_restarts_total") == {"0": 0.0, "1": 1.0}
            assert _by_worker(pod, "telemetry_worker_up") == {"0": 1.0, "1": 1.0}
            builds = _by_worker(pod, "telemetry_build_info")
            assert builds == {"0": 1.0, "1": 1.0}, "each worker's series, with its label"
            consumed = _by_worker(pod, "telemetry_kafka_consumed_messages_total", stage="source")
            assert consumed["0"] > 0
            assert consumed["1"] > 0
            assert pod.url is not None
            base = pod.url.removesuffix("/metrics")
            assert _get(f"{base}/healthz")[0] == 200
            assert _get(f"{base}/readyz")[0] == 200
            died = pod.logged("worker 1 (pid")
            assert len(died) == 1
            assert died[0]["level"] == "ERROR"
            assert "died (killed by SIGKILL)" in died[0]["message"]
    finally:
        code = pod.stop(timeout=60)
    assert_exact(report)
    assert code == 0
    assert pod.logged("pod exited cleanly")
    exited = [e["message"] for e in pod.logged("exited (exit code 0)")]
    assert sorted(exited) == ["worker 0 exited (exit code 0)", "worker 1 exited (exit code 0)"]
