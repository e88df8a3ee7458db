"""The EWMA z-score anomaly rule: warm-up, raise, clear with hysteresis, its saved state."""

from __future__ import annotations

import math

import pytest

from telemetry.errors import ConfigError
from telemetry.rules import RULE_KINDS, ZScoreRule, ZScoreState, new_rule_state


def rule(**kw: object) -> ZScoreRule:
    return ZScoreRule(name="odd", sensor="temp", **kw)  # type: ignore[arg-type]


def feed(state: ZScoreState, values: list[float]) -> list[tuple[str, int]]:
    out = []
    for i, value in enumerate(values):
        alert = state.feed("dev", "temp", i, value)
        if alert is not None:
            assert alert["rule"] == "odd"
            assert "sd from its mean" in alert["message"]
            out.append((alert["state"], i))
    return out


NORMAL = [10.0, 11.0, 9.0, 10.5, 9.5, 10.0, 11.0, 9.0, 10.5, 9.5]


def test_registered_and_built_from_the_registry() -> None:
    assert RULE_KINDS["zscore"] is ZScoreRule
    assert isinstance(new_rule_state(rule()), ZScoreState)


def test_raises_on_an_outlier_after_warmup_and_clears_when_back() -> None:
    state = ZScoreState(rule(k=3.0, alpha=0.2, warmup=10))
    assert feed(state, [*NORMAL, 30.0, 10.0]) == [("RAISED", 10), ("CLEARED", 11)]


def test_no_alert_during_warmup() -> None:
    state = ZScoreState(rule(k=3.0, warmup=5))
    assert feed(state, [10.0, 11.0, 1000.0, 10.0, -500.0]) == []
    assert state.count == 5


def test_clear_k_keeps_it_raised_in_the_band() -> None:
    state = ZScoreState(rule(k=3.0, clear_k=1.0, alpha=1e-6, warmup=10))
    state.restore([10, 0], [10.0, 1.0])  # mean 10, sd 1; a tiny alpha keeps them there
    assert feed(state, [14.0, 12.0, 12.0, 10.5]) == [("RAISED", 0), ("CLEARED", 3)]


def test_constant_history_any_change_breaches_and_non_finite_values_are_skipped() -> None:
    state = ZScoreState(rule(warmup=3))
    assert feed(state, [5.0, 5.0, 5.0, math.nan, math.inf, 5.0, 5.5]) == [("RAISED", 6)]
    assert math.isfinite(state.mean)


def test_ewma_mean_and_variance() -> None:
    state = ZScoreState(rule(alpha=0.5, warmup=100))
    feed(state, [0.0, 2.0])
    # mean 0 -> 1; var = (1 - a) * (0 + 2 * 1) = 1
    assert (state.mean, state.var) == (1.0, 1.0)


def test_half_life_sets_the_weight() -> None:
    assert rule(half_life=1.0).weight == 0.5
    assert rule().weight == 0.1
    assert 0.0 < rule(half_life=20.0).weight < 0.05


def test_state_survives_save_and_restore() -> None:
    first = ZScoreState(rule(alpha=0.2, warmup=10))
    feed(first, [*NORMAL, 30.0])
    second = ZScoreState(rule(alpha=0.2, warmup=10))
    second.restore(*first.save())
    assert (second.count, second.mean, second.var, second.raised) == (
        first.count,
        first.mean,
        first.var,
        True,
    )
    assert second.feed("dev", "temp", 99, 10.0) == first.feed("dev", "temp", 99, 10.0)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"k": 0.0}, "k must be > 0"),
        ({"k": 2.0, "clear_k": 3.0}, r"clear_k must be in \[0, k"),
        ({"alpha": 0.0}, r"alpha must be in \(0, 1\]"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\]"),
        ({"alpha": 0.5, "half_life": 3.0}, "give alpha or half_life, not both"),
        ({"half_life": -1.0}, "half_life must be > 0"),
        ({"warmup": 0}, "warmup must be >= 1"),
        ({"severity": "LOUD"}, "severity must be one of"),
    ],
)
def test_bad_parameters_raise_config_error(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule(**kw)
