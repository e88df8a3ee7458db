"""Exactly-once mode on the real broker: a read_committed reader sees every closable rollup
and every due alert once, with the oracle's values, through a SIGKILL, a broker restart and
a fenced zombie (poison input: tests/integration/test_poison.py)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.config import load_config
from telemetry.kafka import ensure_topics
from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import (
    FleetShape,
    Reading,
    compare,
    expected_alerts,
    expected_rollups,
    fleet,
)
from tests.integration.workers import (
    Feeder,
    Worker,
    logs_on_failure,
    read_outputs,
    wait_for,
    worker_config,
)
from tools.localkafka import LocalKafka

RATE = 8_000.0
EXACTLY_ONCE = "guarantee: exactly_once\ncommit_interval_s: 0.5"


def _both_assigned(a: Worker, b: Worker) -> bool:
    return a.assigned() + b.assigned() == PARTITIONS and a.assigned() > 0 and b.assigned() > 0


def _exactly(
    bootstrap: str, prefix: str, readings: list[Reading], timeout: float
) -> dict[str, Any]:
    """Read (read_committed) until every expected output is there, then compare: exact."""
    deadline = time.monotonic() + timeout
    while True:
        out = read_outputs(bootstrap, [f"{prefix}.rollups", f"{prefix}.alerts"], PARTITIONS)
        report = compare(out[f"{prefix}.rollups"], out[f"{prefix}.alerts"], readings)
        complete = report["missing_rollups_n"] == 0 and report["missing_alerts_n"] == 0
        if complete or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    assert report["expected_rollups"] == len(expected_rollups(readings))
    assert report["expected_alerts"] == len(expected_alerts(readings))
    failures = {
        k: report[k]
        for k in (
            "missing_rollups",
            "unexpected_rollups",
            "wrong_values",
            "republished_differently",
            "duplicate_rollups",
            "missing_alerts",
            "unexpected_alerts",
            "duplicate_alerts",
        )
        if report[k]
    }
    assert not failures, failures
    return report


@pytest.fixture
def scenario(make_scenario: ScenarioFactory) -> tuple[Path, str]:
    return make_scenario(processing=EXACTLY_ONCE)


def test_sigkill_of_one_of_two_workers_publishes_everything_exactly_once(
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
        wait_for(lambda: b.assigned() == PARTITIONS, 60, "b to take a's partitions")
        feeder.join(60)
        report = _exactly(kafka_bootstrap, prefix, readings, timeout=120)
        assert b.metric("telemetry_transactions_total", '{result="committed"}') > 0
    finally:
        b.stop()
        a.stop()
    print(  # noqa: T201 - the figures of the note
        f"exactly-once SIGKILL: {report['expected_rollups']} rollups, "
        f"{report['expected_alerts']} alerts, 0 duplicates, 0 missing"
    )


def test_a_zombie_is_fenced_and_rejoins_and_nothing_of_it_becomes_visible(
    scenario: tuple[Path, str], kafka_bootstrap: str
) -> None:
    """SIGSTOP past the session timeout while the other worker takes over, then SIGCONT: the
    frozen one's open transaction can never commit (its partitions are lost, its generation
    is stale), so it aborts, leaves and joins again, without restarting the process."""
    config, prefix = scenario
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        with logs_on_failure(a, b):
            wait_for(lambda: _both_assigned(a, b), 60, "both workers to share")
            feeder = Feeder(kafka_bootstrap, f"{prefix}.readings", readings, RATE).start()
            wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
            assert a.proc is not None
            a.proc.send_signal(signal.SIGSTOP)
            wait_for(lambda: b.assigned() == PARTITIONS, 60, "b to take a's partitions")
            a.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: bool(a.logged("joining again")), 60, "a to leave and rejoin")
            feeder.join(60)
            wait_for(lambda: _both_assigned(a, b), 60, "a to get partitions again")
            report = _exactly(kafka_bootstrap, prefix, readings, timeout=120)
            assert a.proc.poll() is None, a.lines[-5:]
    finally:
        b.stop()
        a.stop()
    print(f"zombie: rejoined as {a.logged('joining again')[0]['message']}")  # noqa: T201
    assert report["duplicate_rollups"] == 0


def test_a_broker_restart_with_transactions_open_loses_and_duplicates_nothing(
    tmp_path: Path, own_broker: LocalKafka
) -> None:
    """The broker stops while both workers hold open transactions and starts again 3 s later:
    what the coordinator lost is aborted (or fenced) and replayed, the rest commits once."""
    bootstrap = own_broker.settings.bootstrap
    prefix = "eos-restart"
    config = worker_config(
        tmp_path / "config.yaml",
        bootstrap=bootstrap,
        prefix=prefix,
        partitions=PARTITIONS,
        processing=EXACTLY_ONCE,
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert ensure_topics(admin, load_config(config), create=True, out=lambda _: None)
    readings = fleet(FleetShape())
    a = Worker("a", config).start()
    b = Worker("b", config).start()
    try:
        with logs_on_failure(a, b):
            wait_for(lambda: _both_assigned(a, b), 60, "both workers to share")
            feeder = Feeder(bootstrap, f"{prefix}.readings", readings, RATE).start()
            wait_for(lambda: feeder.produced >= len(readings) // 2, 60, "half of the input")
            assert own_broker.stop()
            time.sleep(3.0)
            own_broker.start()
            feeder.join(120)
            report = _exactly(bootstrap, prefix, readings, timeout=180)
            assert a.proc is not None
            assert b.proc is not None
            assert a.proc.poll() is None, a.lines[-5:]
            assert b.proc.poll() is None, b.lines[-5:]
    finally:
        b.stop()
        a.stop()
    rejoins = len(a.logged("joining again")) + len(b.logged("joining again"))
    print(  # noqa: T201 - the figures of the note
        f"exactly-once broker restart: {report['expected_rollups']} rollups, "
        f"{report['expected_alerts']} alerts, 0 duplicates, 0 missing, {rejoins} rejoin(s)"
    )
