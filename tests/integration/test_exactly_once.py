"""Exactly-once mode on the real broker: a read_committed reader sees every closable rollup
and every due alert once, with the oracle's values, through a SIGKILL, a broker restart with
a transaction open, a fenced zombie, and poison input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import PARTITIONS, ScenarioFactory
from tests.integration.fleet_oracle import (
    FleetShape,
    Reading,
    compare,
    expected_alerts,
    expected_rollups,
    fleet,
)
from tests.integration.workers import Feeder, Worker, read_outputs, wait_for

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
