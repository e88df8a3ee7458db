"""Per-window statistics: count, min, max, sum, Welford mean/variance, first/last, a sketch."""

from __future__ import annotations

import math
from typing import Any

from ddsketch import DDSketch

from telemetry.windows._specs import WindowKind

Rollup = dict[str, Any]
"""A rollup record with exactly the fields of ``schemas/rollup.avsc``."""


class Accumulator:
    """Running statistics of one window.

    ``first``/``last`` are by event time; among readings with equal ``ts`` the first to arrive
    is ``first`` and the last to arrive is ``last`` (``farr``/``larr`` keep arrival indices so
    that merged session windows apply the same rule). ``offset`` is the smallest source offset
    of the readings in the window: the window holds it until its rollup is delivered.
    """

    __slots__ = (
        "count",
        "farr",
        "first",
        "fts",
        "larr",
        "last",
        "lts",
        "m2",
        "max",
        "mean",
        "min",
        "offset",
        "sketch",
        "sum",
    )

    def __init__(
        self, ts: int, value: float, offset: int, arrival: int, sketch: DDSketch | None
    ) -> None:
        self.count = 1
        self.min = value
        self.max = value
        self.sum = value
        self.mean = value
        self.m2 = 0.0
        self.fts = ts
        self.first = value
        self.farr = arrival
        self.lts = ts
        self.last = value
        self.larr = arrival
        self.offset = offset
        if sketch is not None:
            sketch.add(value)
        self.sketch = sketch

    def add(self, ts: int, value: float, arrival: int) -> None:
        n = self.count + 1
        self.count = n
        if value < self.min:
            self.min = value
        elif value > self.max:
            self.max = value
        self.sum += value
        mean = self.mean
        delta = value - mean
        mean += delta / n
        self.mean = mean
        self.m2 += delta * (value - mean)
        if ts < self.fts:
            self.fts = ts
            self.first = value
            self.farr = arrival
        if ts >= self.lts:
            self.lts = ts
            self.last = value
            self.larr = arrival
        if self.sketch is not None:
            self.sketch.add(value)

    def merge(self, other: Accumulator) -> None:
        """Fold ``other`` into this one (Chan et al. parallel variance)."""
        n_a = self.count
        n_b = other.count
        n = n_a + n_b
        delta = other.mean - self.mean
        self.mean += delta * n_b / n
        self.m2 += other.m2 + delta * delta * n_a * n_b / n
        self.count = n
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if (other.fts, other.farr) < (self.fts, self.farr):
            self.fts, self.first, self.farr = other.fts, other.first, other.farr
        if (other.lts, other.larr) > (self.lts, self.larr):
            self.lts, self.last, self.larr = other.lts, other.last, other.larr
        self.offset = min(self.offset, other.offset)
        if self.sketch is not None and other.sketch is not None:
            self.sketch.merge(other.sketch)

    def rollup(self, device_id: str, sensor: str, kind: WindowKind, start: int, end: int) -> Rollup:
        sketch = self.sketch
        m2 = self.m2
        if sketch is None:
            p50 = p95 = p99 = None
        else:
            p50 = sketch.get_quantile_value(0.5)
            p95 = sketch.get_quantile_value(0.95)
            p99 = sketch.get_quantile_value(0.99)
        return {
            "device_id": device_id,
            "sensor": sensor,
            "window_start": start,
            "window_size_ms": end - start,
            "window_kind": kind,
            "window_end": end,
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "sum": self.sum,
            "mean": self.mean,
            "stddev": math.sqrt(m2 / self.count) if m2 > 0.0 else 0.0,
            "first": self.first,
            "last": self.last,
            "p50": p50,
            "p95": p95,
            "p99": p99,
        }
