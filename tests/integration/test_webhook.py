"""The webhook sink end to end: ``telemetry run`` workers with a YAML ``sinks:`` entry, the real
broker, and a local HTTP endpoint that is slow and fails now and then.

Every alert the oracle expects (:mod:`tests.integration.fleet_oracle`: out-of-order readings,
quiet devices) must reach the endpoint, also when a worker is SIGKILLed mid-stream; a repeat is
allowed only under the same ``id`` with the same content; the queue never holds more than its
``queue_size`` (backpressure, not memory); the Kafka outputs stay exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import AlertKey, FleetShape, alert_key, expected_alerts, fleet
from tests.integration.workers import (
    Feeder,
    Worker,
    assert_exact,
    complete_outputs,
    logs_on_failure,
    wait_for,
)
from tests.support.webhook import Answer, WebhookEndpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RATE = 20_000.0
QUEUE_SIZE = 20
HOOK = '{sink="ops-hook"}'


def _flaky(n: int) -> Answer:
    """Every 4th request is refused with 503, every 7th takes 0.3 s."""
    return (503 if n % 4 == 0 else 200), {}, (0.3 if n % 7 == 0 else 0.0)


class Endpoint(WebhookEndpoint):
    def __init__(self) -> None:
        super().__init__(_flaky, path="/alerts")

    def alerts(self) -> list[AlertKey]:
        return [alert_key(item["record"]) for item in self.items]

    def check_ids(self) -> None:
        """Repeats carry the same id and content; different content never shares an id."""
        by_id: dict[str, Any] = {}
        for item in self.items:
            assert item["kind"] == "alert"
            assert item["key"] == item["record"]["device_id"]
            assert by_id.setdefault(item["id"], item["record"]) == item["record"]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def scenario(make_scenario: ScenarioFactory, endpoint: Endpoint) -> tuple[Path, str]:
    sinks = f"""
    sinks:
      - kind: webhook
        name: ops-hook
        url: {endpoint.url}
        outputs: alerts
        queue_size: {QUEUE_SIZE}
        batch_size: 5
        backoff_s: 0.05
        max_retries: 50
    """
    return make_scenario(extra=sinks)


def _queued(worker: Worker) -> float:
    return worker.metric("telemetry_webhook_queued_outputs", HOOK)


def _webhook_complete(endpoint: Endpoint, want: set[AlertKey], timeout: float) -> None:
    wait_for(lambda: want <= set(endpoint.alerts()), timeout, "every alert at the webhook")


def test_every_alert_reaches_a_flaky_webhook_with_bounded_queue(
    scenario: tuple[Path, str], kafka_bootstrap: str, endpoint: Endpoint
) -> None:
    config, prefix = scenario
    readings = fleet(FleetShape())
    want = expected_alerts(readings)
    worker = Worker("a", config).start()
    peak = 0.0
    try:
        with logs_on_failure(worker):
            wait_for(lambda: worker.assigned() == PARTITIONS, 60, "the worker to be assigned")
            feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
            while feeder.produced < len(readings):
                peak = max(peak, _queued(worker))
                time.sleep(0.05)
            report = complete_outputs(kafka_bootstrap, prefix, readings, PARTITIONS, timeout=90)
            _webhook_complete(endpoint, want, timeout=60)
            retried = worker.metric("telemetry_webhook_retries_total", HOOK)
    finally:
        code = worker.stop()
    assert_exact(report)
    got = endpoint.alerts()
    assert set(got) == want, {"unexpected": sorted(set(got) - want)[:10]}
    endpoint.check_ids()
    assert endpoint.refused > 0
    assert retried >= 1
    assert 0 < peak <= QUEUE_SIZE
    assert code == 0


def test_a_sigkilled_worker_loses_no_webhook_alert(
    scenario: tuple[Path, str], kafka_bootstrap: str, endpoint: Endpoint
) -> None:
    config, prefix = scenario
    readings = fleet(FleetShape())
    want = expected_alerts(readings)
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        with logs_on_failure(a, b):
            wait_for(lambda: a.assigned() + b.assigned() == PARTITIONS, 60, "both assigned")
            feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
            wait_for(lambda: feeder.produced >= len(readings) * 3 // 4, 60, "75 % of the input")
            a.kill()
            wait_for(lambda: b.assigned() == PARTITIONS, 60, "b to take a's partitions")
            feeder.join(60)
            report = complete_outputs(kafka_bootstrap, prefix, readings, PARTITIONS, timeout=90)
            _webhook_complete(endpoint, want, timeout=60)
    finally:
        b.stop()
        a.stop()
    assert_exact(report)
    got = endpoint.alerts()
    assert set(got) == want, {"unexpected": sorted(set(got) - want)[:10]}
    endpoint.check_ids()
