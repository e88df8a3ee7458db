"""Anomaly rule: a reading far from the key's recent mean, in standard deviations (EWMA).

Per (device, sensor) the rule keeps an exponentially weighted mean and variance of the values,
with weight ``alpha`` for the newest (or ``half_life``: the number of readings after which a
reading's weight has halved; ``alpha = 1 - 2 ** (-1 / half_life)``). A reading is compared with
the statistics of the readings before it, then folded in (anomalies too: a lasting shift becomes
the new normal). The first ``warmup`` readings only train the statistics.

RAISED when ``|value - mean| > k * stddev``; CLEARED when ``|value - mean| < clear_k * stddev``
(``clear_k`` defaults to ``k``; below it is hysteresis). With a zero deviation (constant values)
any different value breaches. Non-finite values are skipped: they would poison the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from telemetry.errors import ConfigError
from telemetry.rules._config import RuleBase, Severity, check_common
from telemetry.rules._kind import Alert
from telemetry.rules._state import make_alert

DEFAULT_ALPHA = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class ZScoreRule(RuleBase):
    """``|value - EWMA mean| > k * EWMA stddev`` after ``warmup`` readings (module docstring)."""

    kind_name: ClassVar[str] = "zscore"
    timed: ClassVar[bool] = False

    k: float = 3.0
    clear_k: float | None = None
    alpha: float | None = None
    """Weight of the newest reading, in (0, 1]; give this or ``half_life`` (default 0.1)."""
    half_life: float | None = None
    """Readings after which a reading's weight has halved (> 0)."""
    warmup: int = 10
    severity: Severity = "WARNING"
    devices: str = "*"

    def __post_init__(self) -> None:
        self._check_base()
        check_common(self.name, 1, self.severity)
        where = f"rule {self.name!r}"
        if not self.k > 0:
            raise ConfigError(f"{where}: k must be > 0 (standard deviations), got {self.k}")
        if self.clear_k is not None and not 0 <= self.clear_k <= self.k:
            raise ConfigError(f"{where}: clear_k must be in [0, k ({self.k})], got {self.clear_k}")
        if self.alpha is not None and self.half_life is not None:
            raise ConfigError(f"{where}: give alpha or half_life, not both")
        if self.alpha is not None and not 0 < self.alpha <= 1:
            raise ConfigError(f"{where}: alpha must be in (0, 1], got {self.alpha}")
        if self.half_life is not None and not self.half_life > 0:
            raise ConfigError(f"{where}: half_life must be > 0 (readings), got {self.half_life}")
        if self.warmup < 1:
            raise ConfigError(f"{where}: warmup must be >= 1 (readings), got {self.warmup}")

    @property
    def weight(self) -> float:
        """The EWMA weight of the newest reading."""
        if self.half_life is not None:
            return float(1.0 - 2.0 ** (-1.0 / self.half_life))
        return DEFAULT_ALPHA if self.alpha is None else self.alpha


class ZScoreState:
    __slots__ = ("alpha", "clear_k", "count", "k", "mean", "raised", "rule", "var", "warmup")

    def __init__(self, rule: ZScoreRule) -> None:
        self.rule = rule
        self.alpha = rule.weight
        self.k = rule.k
        self.clear_k = rule.k if rule.clear_k is None else rule.clear_k
        self.warmup = rule.warmup
        self.count = 0
        self.mean = 0.0
        self.var = 0.0
        self.raised = False

    def feed(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        if not math.isfinite(value):
            return None
        n = self.count
        alert = None
        if n >= self.warmup:
            alert = self._evaluate(device_id, sensor, ts, value)
        if n:
            diff = value - self.mean
            step = self.alpha * diff
            self.mean += step
            self.var = (1.0 - self.alpha) * (self.var + diff * step)
        else:
            self.mean = value
        self.count = n + 1
        return alert

    def _evaluate(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        deviation = abs(value - self.mean)
        std = math.sqrt(self.var)
        if self.raised:
            if not deviation < self.clear_k * std:
                return None
        elif not deviation > self.k * std:
            return None
        self.raised = not self.raised
        rule = self.rule
        z = deviation / std if std > 0 else math.inf
        state, op, bound = (
            ("raised", ">", self.k) if self.raised else ("cleared", "<", self.clear_k)
        )
        message = (
            f"{rule.name} {state}: {sensor} {value} is {z:.3g} sd from its mean "
            f"{self.mean:.6g} ({op} {bound:g})"
        )
        return make_alert(device_id, sensor, rule, self.raised, value, ts, message)

    def save(self) -> tuple[list[int], list[float]]:
        return [self.count, int(self.raised)], [self.mean, self.var]

    def restore(self, longs: list[int], doubles: list[float]) -> None:
        self.count, raised = longs
        self.raised = bool(raised)
        self.mean, self.var = doubles
