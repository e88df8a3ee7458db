"""Window specifications: how the event-time axis is cut, read from configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from telemetry.errors import ConfigError

WindowKind = Literal["TUMBLING", "HOPPING", "SESSION", "SLIDING"]

DEFAULT_RELATIVE_ACCURACY = 0.01
"""Relative accuracy of the quantile sketch: a reported percentile is within 1 % of a true
value at that rank (DDSketch guarantee)."""


@dataclass(frozen=True, slots=True)
class Tumbling:
    """Back-to-back windows ``[k*size, (k+1)*size)`` aligned to the Unix epoch."""

    kind_name: ClassVar[str] = "tumbling"
    symbol: ClassVar[str] = "TUMBLING"
    fixed_size: ClassVar[bool] = True

    size_ms: int
    percentiles: bool = False
    """Compute p50/p95/p99 (a sketch update per reading: costs about 1 us per event)."""

    def __post_init__(self) -> None:
        _positive("size_ms", self.size_ms)

    @property
    def spec_id(self) -> str:
        return f"T{self.size_ms}"

    @property
    def extent_ms(self) -> int:
        return self.size_ms

    @property
    def windows_per_reading(self) -> int:
        return 1


@dataclass(frozen=True, slots=True)
class Hopping:
    """Overlapping windows ``[k*advance, k*advance + size)``; a reading is in every one covering
    it."""

    kind_name: ClassVar[str] = "hopping"
    symbol: ClassVar[str] = "HOPPING"
    fixed_size: ClassVar[bool] = True

    size_ms: int
    advance_ms: int
    percentiles: bool = False

    def __post_init__(self) -> None:
        _positive("size_ms", self.size_ms)
        _positive("advance_ms", self.advance_ms)
        if self.advance_ms > self.size_ms:
            raise ConfigError(
                f"hopping window: advance_ms ({self.advance_ms}) must be <= size_ms "
                f"({self.size_ms})"
            )

    @property
    def spec_id(self) -> str:
        return f"H{self.size_ms}/{self.advance_ms}"

    @property
    def extent_ms(self) -> int:
        return self.size_ms

    @property
    def windows_per_reading(self) -> int:
        return -(-self.size_ms // self.advance_ms)


@dataclass(frozen=True, slots=True)
class Session:
    """Per-key sessions: readings closer than ``gap_ms`` in event time share a session."""

    kind_name: ClassVar[str] = "session"
    symbol: ClassVar[str] = "SESSION"
    fixed_size: ClassVar[bool] = False

    gap_ms: int
    percentiles: bool = False

    def __post_init__(self) -> None:
        _positive("gap_ms", self.gap_ms)

    @property
    def spec_id(self) -> str:
        return f"S{self.gap_ms}"

    @property
    def extent_ms(self) -> int:
        return self.gap_ms

    @property
    def windows_per_reading(self) -> int:
        return 1


def positive_ms(name: str, value: int) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive int (a duration in ms)."""
    _positive(name, value)


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"window {name} must be a positive int (milliseconds), got {value!r}")
