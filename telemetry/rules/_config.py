"""Alert rules as configured: frozen dataclasses, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import ClassVar, Literal

from telemetry.errors import ConfigError
from telemetry.rules._kind import Rule

Severity = Literal["INFO", "WARNING", "CRITICAL"]
_SEVERITIES = ("INFO", "WARNING", "CRITICAL")


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleBase:
    """What every rule has: a name and the sensor it watches (subclass it for a new kind)."""

    name: str
    sensor: str
    """Sensor name the rule watches (exact match)."""

    def _check_base(self) -> None:
        if not self.name:
            raise ConfigError("an alert rule needs a non-empty name")
        if not self.sensor:
            raise ConfigError(f"rule {self.name!r}: sensor must be non-empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdRule(RuleBase):
    """Threshold with hysteresis and debounce.

    ``direction="above"``: a reading breaches when ``value > raise_at`` and is clear when
    ``value < clear_at`` (``clear_at <= raise_at``). ``direction="below"`` mirrors it: breach when
    ``value < raise_at``, clear when ``value > clear_at`` (``clear_at >= raise_at``). A reading in
    the band between is neither and breaks a streak. RAISED after ``debounce`` consecutive
    breaching readings, CLEARED after ``debounce`` consecutive clear ones.
    """

    raise_at: float
    clear_at: float
    kind_name: ClassVar[str] = "threshold"
    timed: ClassVar[bool] = False

    direction: Literal["above", "below"] = "above"
    debounce: int = 1
    severity: Severity = "WARNING"
    devices: str = "*"
    """``fnmatch`` pattern (case-sensitive) on the device id."""

    def __post_init__(self) -> None:
        self._check_base()
        _check_common(self.name, self.debounce, self.severity)
        if self.direction == "above" and self.clear_at > self.raise_at:
            raise ConfigError(f"rule {self.name!r}: clear_at must be <= raise_at for 'above'")
        if self.direction == "below" and self.clear_at < self.raise_at:
            raise ConfigError(f"rule {self.name!r}: clear_at must be >= raise_at for 'below'")
        if self.direction not in {"above", "below"}:
            raise ConfigError(f"rule {self.name!r}: direction must be 'above' or 'below'")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateOfChangeRule(RuleBase):
    """Rate of change: ``abs(value - ref.value) / seconds(ts - ref.ts) > limit_per_s``.

    ``ref`` is the earliest earlier reading of the key with ``ts - span_ms <= ref.ts < ts``; a
    reading without one, or whose ``ts`` is not newer than the key's newest, is skipped by the
    rule. Breach when the rate exceeds the limit, clear otherwise; ``debounce`` as for thresholds.
    """

    kind_name: ClassVar[str] = "rate_of_change"
    timed: ClassVar[bool] = False

    limit_per_s: float
    span_ms: int
    debounce: int = 1
    severity: Severity = "WARNING"
    devices: str = "*"

    def __post_init__(self) -> None:
        self._check_base()
        _check_common(self.name, self.debounce, self.severity)
        if self.span_ms <= 0:
            raise ConfigError(f"rule {self.name!r}: span_ms must be > 0")
        if self.limit_per_s < 0:
            raise ConfigError(f"rule {self.name!r}: limit_per_s must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class SilentRule(RuleBase):
    """Device silent: no reading of the (device, sensor) for ``after_ms`` on the partition's
    idle-aware event clock raises (at ``last ts + after_ms``, with the last value); the next
    reading clears (with its own ts and value)."""

    kind_name: ClassVar[str] = "silent"
    timed: ClassVar[bool] = True

    after_ms: int
    severity: Severity = "WARNING"
    devices: str = "*"

    def __post_init__(self) -> None:
        self._check_base()
        _check_common(self.name, 1, self.severity)
        if self.after_ms <= 0:
            raise ConfigError(f"rule {self.name!r}: after_ms must be > 0")


def matches(rule: Rule, device_id: str, sensor: str) -> bool:
    """True when ``rule`` applies to this (device, sensor)."""
    return rule.sensor == sensor and (rule.devices == "*" or fnmatchcase(device_id, rule.devices))


def check_common(name: str, debounce: int, severity: str) -> None:
    """The checks every rule kind shares: debounce >= 1, a known severity."""
    _check_common(name, debounce, severity)


def _check_common(name: str, debounce: int, severity: str) -> None:
    if debounce < 1:
        raise ConfigError(f"rule {name!r}: debounce must be >= 1, got {debounce}")
    if severity not in _SEVERITIES:
        raise ConfigError(f"rule {name!r}: severity must be one of {_SEVERITIES}")
