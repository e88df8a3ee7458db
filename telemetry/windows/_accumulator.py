"""Per-window statistics: count, min, max, sum, Welford mean/variance, first/last, a sketch."""

from __future__ import annotations

import math
from typing import Any, Final

from ddsketch import DDSketch

Rollup = dict[str, Any]
"""A rollup record with exactly the fields of ``schemas/rollup.avsc``."""

WIDE: Final = 2.0**480
"""Beyond this magnitude a value's square overflows a sum of squares: its window is rescaled."""
WIDE_SCALE: Final = 2.0**-600
"""The scale of a wide window: a double times it is below 2**424, so squares stay finite."""


class Accumulator:
    """Running statistics of one window.

    ``first``/``last`` are by event time; among readings with equal ``ts`` the first to arrive
    is ``first`` and the last to arrive is ``last`` (``farr``/``larr`` keep arrival indices so
    that merged session windows apply the same rule). ``offset`` is the smallest source offset
    of the readings in the window: the window holds it until its rollup is delivered.

    ``sum``, ``mean`` and ``m2`` are kept for the values times ``scale``: 1.0 (exact) until a
    value beyond :data:`WIDE` arrives, :data:`WIDE_SCALE` from then on (:meth:`widen`), so that
    neither the sum nor the sum of squared deviations overflows for finite input.
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
        "scale",
        "sketch",
        "sum",
    )

    def __init__(
        self, ts: int, value: float, offset: int, arrival: int, sketch: DDSketch | None
    ) -> None:
        self.count = 1
        self.min = value
        self.max = value
        scale = 1.0 if -WIDE <= value <= WIDE else WIDE_SCALE
        self.scale = scale
        self.sum = value * scale
        self.mean = value * scale
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
            if value < -WIDE:
                self.widen()
        elif value > self.max:
            self.max = value
            if value > WIDE:
                self.widen()
        v = value * self.scale
        self.sum += v
        mean = self.mean
        delta = v - mean
        mean += delta / n
        self.mean = mean
        self.m2 += delta * (v - mean)
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

    def widen(self) -> None:
        """Rescale to :data:`WIDE_SCALE`, before the first value beyond :data:`WIDE` is added.
        (Small values may underflow here; beside a value beyond ``WIDE`` they do not count.)"""
        if self.scale != WIDE_SCALE:
            self.scale = WIDE_SCALE
            self.sum *= WIDE_SCALE
            self.mean *= WIDE_SCALE
            self.m2 = self.m2 * WIDE_SCALE * WIDE_SCALE  # 2**-1200 is no double; twice 2**-600

    def merge(self, other: Accumulator) -> None:
        """Fold ``other`` into this one (Chan et al. parallel variance)."""
        if other.scale != self.scale:
            self.widen()
            other.widen()  # ``other`` is discarded after the merge
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

    def rollup(self, device_id: str, sensor: str, kind: str, start: int, end: int) -> Rollup:
        sketch = self.sketch
        m2 = self.m2
        scale = self.scale
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
            "sum": self.sum / scale,  # infinite only if the exact sum is beyond the doubles
            "mean": self.mean / scale,
            "stddev": math.sqrt(m2 / self.count) / scale if m2 > 0.0 else 0.0,
            "first": self.first,
            "last": self.last,
            "p50": p50,
            "p95": p95,
            "p99": p99,
        }
