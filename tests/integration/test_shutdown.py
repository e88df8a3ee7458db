"""Shutdown is bounded in time: with the broker gone, SIGTERM still ends the process within
the chart's terminationGracePeriodSeconds (drain_timeout_s + 35 s)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.config import load_config
from telemetry.kafka import ensure_topics
from telemetry.stages import StopBudget
from tests.integration.conftest import PARTITIONS
from tests.integration.fleet_oracle import FleetShape, fleet
from tests.integration.workers import Feeder, Worker, wait_for, worker_config
from tools.localkafka import LocalKafka

DRAIN_TIMEOUT_S = 5
GRACE_S = DRAIN_TIMEOUT_S + StopBudget().seconds + 5  # the chart's sum: templates/_helpers.tpl


@pytest.mark.parametrize(
    "session_timeout_ms", [6_000, 45_000], ids=["partitions-lost-first", "still-a-member"]
)
def test_sigterm_with_the_broker_down_exits_within_the_grace_period(
    tmp_path: Path, own_broker: LocalKafka, session_timeout_ms: int
) -> None:
    """With a short session the member loses its partitions during the drain; with a long
    one it still owns them at close, so the revoke path (flushes, a synchronous commit, the
    group leave) runs against a broker that is gone."""
    bootstrap = own_broker.settings.bootstrap
    prefix = "down"
    config = worker_config(
        tmp_path / "config.yaml",
        bootstrap=bootstrap,
        prefix=prefix,
        partitions=PARTITIONS,
        processing=f"drain_timeout_s: {DRAIN_TIMEOUT_S}\nsession_timeout_ms: {session_timeout_ms}",
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert ensure_topics(admin, load_config(config), create=True, out=lambda _: None)
    readings = fleet(FleetShape())
    worker = Worker("w", config).start()
    try:
        wait_for(lambda: worker.assigned() == PARTITIONS, 60, "the assignment")
        feeder = Feeder(bootstrap, f"{prefix}.readings", readings, 20_000).start()
        wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
        assert own_broker.stop()  # mid-stream: outputs, changelog records and commits pending
        time.sleep(2.0)  # the clients notice: connections refused
        started = time.monotonic()
        code = worker.stop(timeout=GRACE_S + 60)
        took = time.monotonic() - started
    finally:
        worker.stop()
    print(f"shutdown with the broker down: {took:.1f} s, exit {code}")  # noqa: T201
    assert code is not None, "killed: it did not exit on its own"
    assert took < GRACE_S, (
        f"{took:.1f} s",
        [
            (e.get("ts"), str(e.get("message"))[:160])
            for e in worker.lines
            if "Connect to" not in str(e.get("message"))
        ][-40:],
    )
