"""Durable state under faults, on the real broker, against an exact oracle.

Two ``telemetry run`` workers share a group while an out-of-order fleet with quiet devices
streams in (:mod:`tests.integration.fleet_oracle`). One worker is SIGKILLed at 75 %, or a second
one joins halfway, or one is frozen past its session; then every closable window must be
published with the oracle's values (a duplicate only with identical values), and every alert
that was due must be raised.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.app import App
from telemetry.config import load_config
from telemetry.errors import StageError
from telemetry.kafka import ensure_topics
from telemetry.rules import Alert, ThresholdState
from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import FleetShape, Reading, fleet
from tests.integration.workers import (
    Feeder,
    Running,
    Worker,
    assert_exact,
    complete_outputs,
    logs_on_failure,
    wait_for,
    worker_config,
)
from tools.localkafka import LocalKafka

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RATE = 20_000.0


@pytest.fixture
def scenario(make_scenario: ScenarioFactory) -> tuple[Path, str]:
    return make_scenario()


def _complete(
    bootstrap: str, prefix: str, readings: list[Reading], timeout: float
) -> dict[str, Any]:
    return complete_outputs(bootstrap, prefix, readings, PARTITIONS, timeout)


def _both_assigned(a: Worker, b: Worker) -> bool:
    x, y = a.assigned(), b.assigned()
    return x > 0 and y > 0 and x + y == PARTITIONS


def test_sigkill_of_one_of_two_workers_loses_and_changes_nothing(
    scenario: tuple[Path, str], kafka_bootstrap: str
) -> None:
    config, prefix = scenario
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        wait_for(lambda: _both_assigned(a, b), 60, "both workers to share the partitions")
        feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
        wait_for(lambda: feeder.produced >= len(readings) * 3 // 4, 60, "75 % of the input")
        a.kill()
        killed = time.monotonic()
        took_over = wait_for(lambda: b.assigned() == PARTITIONS, 60, "b to take a's partitions")
        wait_for(lambda: len(b.logged("restored")) >= PARTITIONS, 30, "b to restore them")
        print(f"kill -> b owns every partition: {took_over:.1f} s")  # noqa: T201
        feeder.join(60)
        report = _complete(kafka_bootstrap, prefix, readings, timeout=90)
        print(f"after kill: {time.monotonic() - killed:.1f} s, {report}")  # noqa: T201
    finally:
        b.stop()
        a.stop()
    assert_exact(report)
    assert took_over < 6.0 + 10.0  # the session timeout, then a rebalance


def test_a_second_worker_joining_republishes_nothing_differently(
    scenario: tuple[Path, str], kafka_bootstrap: str
) -> None:
    config, prefix = scenario
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b: Worker | None = None
    try:
        wait_for(lambda: a.assigned() == PARTITIONS, 60, "a to own every partition")
        feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
        wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
        b = Worker("b", config).start()
        joined = b
        wait_for(lambda: _both_assigned(a, joined), 60, "b to join")
        wait_for(lambda: bool(joined.logged("restored")), 30, "b to restore its partitions")
        restored = [e for e in b.logged("restored") if ": 0 keys" not in e["message"]]
        assert restored, ("b took partitions over without their state", b.logged("restored"))
        feeder.join(60)
        report = _complete(kafka_bootstrap, prefix, readings, timeout=90)
    finally:
        if b is not None:
            b.stop()
        a.stop()
    assert_exact(report)


def test_a_frozen_worker_loses_its_partitions_and_publishes_nothing_wrong(
    scenario: tuple[Path, str], kafka_bootstrap: str
) -> None:
    """SIGSTOP past the session timeout: the other worker takes over; on SIGCONT the frozen
    one finds its partitions lost and drops their state instead of publishing from it."""
    config, prefix = scenario
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        wait_for(lambda: _both_assigned(a, b), 60, "both workers to share the partitions")
        feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
        wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
        assert a.proc is not None
        a.proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: b.assigned() == PARTITIONS, 60, "b to take a's partitions")
        a.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: bool(a.logged("lost")), 30, "a to notice its partitions are lost")
        feeder.join(60)
        report = _complete(kafka_bootstrap, prefix, readings, timeout=90)
    finally:
        b.stop()
        a.stop()
    assert_exact(report)


def test_a_failure_inside_aggregation_is_escalated_and_counts_nothing_twice(
    scenario: tuple[Path, str], kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule that raises halfway through a batch: the windows of the readings before it in
    the batch are updated, the batch is not done. The stage escalates and the processor stops;
    the state it left must not be checkpointed, so the next run restores the last whole
    checkpoint and replays from its marker, counting nothing twice and losing nothing."""
    config_path, prefix = scenario
    config = load_config(config_path)
    readings = fleet(FleetShape())
    calls = [0]
    fail_at = len(readings) // 2
    feed = ThresholdState.feed

    def failing_feed(
        self: ThresholdState, device_id: str, sensor: str, ts: int, value: float
    ) -> Alert | None:
        calls[0] += 1
        if calls[0] == fail_at:
            raise RuntimeError("injected failure inside the aggregation stage")
        return feed(self, device_id, sensor, ts, value)

    monkeypatch.setattr(ThresholdState, "feed", failing_feed)
    first = Running(App(config), "first-app")
    feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
    first.join(90)
    failure = first.failure
    assert len(failure) == 1
    assert isinstance(failure[0], StageError), failure
    assert "injected failure" in str(failure[0])
    assert first.app.registry.get_sample_value("telemetry_state_checkpoints_total")
    monkeypatch.undo()

    second = Running(App(config), "second-app")
    try:
        feeder.join(60)
        report = _complete(kafka_bootstrap, prefix, readings, timeout=90)
    finally:
        second.drain()
    assert not second.failure, second.failure
    assert_exact(report)


def test_a_broker_restart_mid_stream_loses_and_changes_nothing(
    tmp_path: Path, own_broker: LocalKafka
) -> None:
    """The broker is stopped and started again while two workers process the out-of-order
    fleet: outputs, changelog writes and commits wait and retry; every output matches."""
    bootstrap = own_broker.settings.bootstrap
    prefix = "restart"
    config = worker_config(
        tmp_path / "config.yaml", bootstrap=bootstrap, prefix=prefix, partitions=PARTITIONS
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert ensure_topics(admin, load_config(config), create=True, out=lambda _: None)
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        with logs_on_failure(a, b):
            wait_for(lambda: _both_assigned(a, b), 60, "both workers to share the partitions")
            feeder = Feeder(bootstrap, f"{prefix}.readings", readings, RATE).start()
            wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
            assert own_broker.stop()
            time.sleep(3.0)
            own_broker.start()
            feeder.join(120)
            report = _complete(bootstrap, prefix, readings, timeout=120)
            assert a.proc is not None
            assert b.proc is not None
            assert a.proc.poll() is None, a.lines[-5:]
            assert b.proc.poll() is None, b.lines[-5:]
            print(  # noqa: T201 - the figures of the note
                f"broker restart: duplicates {report['duplicate_rollups']}, "
                f"alerts {report['alerts_read']} of {report['expected_alerts']}"
            )
            assert_exact(report)
    finally:
        b.stop()
        a.stop()
