"""Window specs and the accumulator's statistics."""

from __future__ import annotations

import math
import statistics

import pytest
from ddsketch import DDSketch

from telemetry.windows import Accumulator, Hopping, Session, Tumbling, window_kind


def test_kinds() -> None:
    assert window_kind(Tumbling(1000)) == "TUMBLING"
    assert window_kind(Hopping(1000, 500)) == "HOPPING"
    assert window_kind(Session(1000)) == "SESSION"


def test_welford_is_stable_on_a_large_offset() -> None:
    values = [1e9 + x for x in (4.0, 7.0, 13.0, 16.0)]
    acc = Accumulator(0, values[0], 0, 0, None)
    for i, v in enumerate(values[1:], 1):
        acc.add(i, v, i)
    r = acc.rollup("d", "s", "TUMBLING", 0, 10)
    assert r["stddev"] == pytest.approx(statistics.pstdev(values), rel=1e-9)
    assert r["mean"] == pytest.approx(1e9 + 10.0, rel=1e-15)


def test_merge_equals_one_pass() -> None:
    values = [3.0, -1.5, 8.25, 0.0, 2.0, 2.0, 11.0]
    one = Accumulator(0, values[0], 5, 0, DDSketch(0.01))
    for i, v in enumerate(values[1:], 1):
        one.add(i, v, i)
    left = Accumulator(0, values[0], 5, 0, DDSketch(0.01))
    for i, v in enumerate(values[1:3], 1):
        left.add(i, v, i)
    right = Accumulator(3, values[3], 2, 3, DDSketch(0.01))
    for i, v in enumerate(values[4:], 4):
        right.add(i, v, i)
    left.merge(right)
    a = one.rollup("d", "s", "SESSION", 0, 7)
    b = left.rollup("d", "s", "SESSION", 0, 7)
    for name in ("count", "min", "max", "first", "last", "p50", "p95", "p99"):
        assert a[name] == b[name], name
    for name in ("sum", "mean", "stddev"):
        assert math.isclose(a[name], b[name], rel_tol=1e-12), name
    assert left.offset == 2
