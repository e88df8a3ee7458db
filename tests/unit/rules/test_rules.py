"""Each rule kind, on its own state machine."""

from __future__ import annotations

import pytest

from telemetry.errors import ConfigError
from telemetry.rules import (
    RateOfChangeRule,
    RateState,
    SilentRule,
    SilentState,
    ThresholdRule,
    ThresholdState,
    matches,
)


def run(
    state: ThresholdState | RateState, points: list[tuple[int, float]]
) -> list[tuple[str, int]]:
    out = []
    for ts, value in points:
        alert = state.feed("dev", "temp", ts, value)
        if alert is not None:
            assert alert["message"]
            out.append((alert["state"], ts))
    return out


def test_threshold_hysteresis_does_not_repeat() -> None:
    rule = ThresholdRule(name="hot", sensor="temp", raise_at=80.0, clear_at=70.0)
    values = [50, 81, 90, 85, 75, 79, 81, 69, 60, 81]
    assert run(ThresholdState(rule), list(enumerate(map(float, values)))) == [
        ("RAISED", 1),
        ("CLEARED", 7),
        ("RAISED", 9),
    ]


def test_threshold_below_mirrors() -> None:
    rule = ThresholdRule(name="cold", sensor="temp", raise_at=0.0, clear_at=5.0, direction="below")
    values = [10, -1, 3, 6, 4, -2]
    assert run(ThresholdState(rule), list(enumerate(map(float, values)))) == [
        ("RAISED", 1),
        ("CLEARED", 3),
        ("RAISED", 5),
    ]


def test_debounce_needs_consecutive_readings_both_ways() -> None:
    rule = ThresholdRule(name="hot", sensor="temp", raise_at=80.0, clear_at=70.0, debounce=3)
    values = [81, 81, 75, 81, 81, 81, 60, 60, 72, 60, 60, 60]
    assert run(ThresholdState(rule), list(enumerate(map(float, values)))) == [
        ("RAISED", 5),
        ("CLEARED", 11),
    ]


def test_alert_record_fields() -> None:
    rule = ThresholdRule(name="hot", sensor="temp", raise_at=1.0, clear_at=0.0, severity="CRITICAL")
    alert = ThresholdState(rule).feed("dev", "temp", 123, 2.5)
    assert alert is not None
    assert {k: v for k, v in alert.items() if k != "message"} == {
        "device_id": "dev",
        "sensor": "temp",
        "rule": "hot",
        "state": "RAISED",
        "severity": "CRITICAL",
        "value": 2.5,
        "ts": 123,
    }


def test_rate_of_change_over_span() -> None:
    rule = RateOfChangeRule(name="jump", sensor="temp", limit_per_s=1.0, span_ms=10_000)
    points = [
        (0, 0.0),
        (5000, 4.0),  # 0.8/s from ts 0: fine
        (6000, 7.0),  # 7/6 s > 1/s: raised
        (6000, 99.0),  # same instant: skipped
        (5500, 99.0),  # out of order: skipped
        (20_000, 8.0),  # ref = 20_000 - 10_000 -> none older in span except none: skipped
        (25_000, 9.0),  # ref 20_000: 0.2/s: cleared
    ]
    assert run(RateState(rule), points) == [("RAISED", 6000), ("CLEARED", 25_000)]


def test_silent_state_raises_once_and_clears_on_reading() -> None:
    rule = SilentRule(name="quiet", sensor="temp", after_ms=1000)
    state = SilentState(rule, 100, 5.0)
    assert state.deadline() == 1100
    raised = state.fire("dev", "temp")
    assert (raised["state"], raised["ts"], raised["value"]) == ("RAISED", 1100, 5.0)
    cleared = state.see("dev", "temp", 3000, 6.0)
    assert cleared is not None
    assert (cleared["state"], cleared["ts"], cleared["value"]) == ("CLEARED", 3000, 6.0)
    assert state.see("dev", "temp", 3100, 6.0) is None
    assert state.deadline() == 4100


def test_matching_by_sensor_and_device_glob() -> None:
    rule = SilentRule(name="q", sensor="temp", after_ms=1, devices="plant-*")
    assert matches(rule, "plant-7", "temp")
    assert not matches(rule, "plant-7", "humidity")
    assert not matches(rule, "office-1", "temp")


@pytest.mark.parametrize(
    "build",
    [
        lambda: ThresholdRule(name="x", sensor="t", raise_at=1.0, clear_at=2.0),
        lambda: ThresholdRule(name="x", sensor="t", raise_at=1.0, clear_at=0.0, direction="below"),
        lambda: ThresholdRule(name="x", sensor="t", raise_at=1.0, clear_at=0.0, debounce=0),
        lambda: ThresholdRule(name="", sensor="t", raise_at=1.0, clear_at=0.0),
        lambda: RateOfChangeRule(name="x", sensor="t", limit_per_s=1.0, span_ms=0),
        lambda: SilentRule(name="x", sensor="t", after_ms=0),
        lambda: SilentRule(name="x", sensor="t", after_ms=1, severity="LOUD"),  # type: ignore[arg-type]
    ],
)
def test_bad_rules_are_rejected(build: object) -> None:
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]
