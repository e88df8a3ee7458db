"""Window specifications: how the event-time axis is cut, read from configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telemetry.errors import ConfigError

WindowKind = Literal["TUMBLING", "HOPPING", "SESSION"]

DEFAULT_RELATIVE_ACCURACY = 0.01
"""Relative accuracy of the quantile sketch: a reported percentile is within 1 % of a true
value at that rank (DDSketch guarantee)."""


@dataclass(frozen=True, slots=True)
class Tumbling:
    """Back-to-back windows ``[k*size, (k+1)*size)`` aligned to the Unix epoch."""

    size_ms: int
    percentiles: bool = False
    """Compute p50/p95/p99 (a sketch update per reading: costs about 1 us per event)."""

    def __post_init__(self) -> None:
        _positive("size_ms", self.size_ms)


@dataclass(frozen=True, slots=True)
class Hopping:
    """Overlapping windows ``[k*advance, k*advance + size)``; a reading is in every one covering
    it."""

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


@dataclass(frozen=True, slots=True)
class Session:
    """Per-key sessions: readings closer than ``gap_ms`` in event time share a session."""

    gap_ms: int
    percentiles: bool = False

    def __post_init__(self) -> None:
        _positive("gap_ms", self.gap_ms)


WindowSpec = Tumbling | Hopping | Session


def window_kind(spec: WindowSpec) -> WindowKind:
    """The Avro ``WindowKind`` symbol of ``spec``."""
    if isinstance(spec, Tumbling):
        return "TUMBLING"
    if isinstance(spec, Hopping):
        return "HOPPING"
    return "SESSION"


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"window {name} must be a positive int (milliseconds), got {value!r}")
