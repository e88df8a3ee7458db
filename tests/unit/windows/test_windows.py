"""Window specs and the accumulator's statistics."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import pytest
from ddsketch import DDSketch

from telemetry.windows import (
    WINDOW_KINDS,
    Accumulator,
    Hopping,
    Session,
    Sliding,
    Tumbling,
    WindowSpec,
    rollup_label,
)


def test_kinds() -> None:
    assert Tumbling(1000).symbol == "TUMBLING"
    assert Hopping(1000, 500).symbol == "HOPPING"
    assert Session(1000).symbol == "SESSION"
    assert Sliding(1000).symbol == "SLIDING"
    assert dict(WINDOW_KINDS) == {
        "tumbling": Tumbling,
        "hopping": Hopping,
        "session": Session,
        "sliding": Sliding,
    }


def test_spec_ids_name_the_spec() -> None:
    specs: list[WindowSpec] = [Tumbling(1000), Hopping(1000, 500), Session(700)]
    specs.append(Sliding(60_000, every_ms=500))
    assert [s.spec_id for s in specs] == ["T1000", "H1000/500", "S700", "L60000/500"]


def test_rollup_label_comes_from_the_spec_kind() -> None:
    assert rollup_label({"window_kind": "TUMBLING", "window_size_ms": 1000}) == "tumbling-1000ms"
    assert rollup_label({"window_kind": "SLIDING", "window_size_ms": 60}) == "sliding-60ms"
    assert rollup_label({"window_kind": "SESSION", "window_size_ms": 61}) == "session"


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


def exact_stats(values: list[float]) -> tuple[float, float, float]:
    """(sum, mean, population stddev) computed in exact rationals, rounded once at the end."""
    n = len(values)
    total = sum(Fraction(v) for v in values)
    mean = total / n
    variance = sum((Fraction(v) - mean) ** 2 for v in values) / n
    # A variance near 1e600 is no double: take the root of it scaled down by 2**1200.
    return float(total), float(mean), math.sqrt(variance / 2**1200) * 2.0**600


EXTREMES = {
    "near 1e300, both signs": [1e300, -1e300, 5e299, 9.9e299, -3e299, 1.2e300],
    "the largest doubles": [1.7e308, 1.7e308, -1.7e308, -1.0e308, 0.5e308],
    "small, then huge, then small": [1.5, 2.5, 3e300, -1.0, 4e300, 0.25],
    "huge first, then small": [-2e300, 1.0, 2.0, 3.0],
}


@pytest.mark.parametrize("values", EXTREMES.values(), ids=EXTREMES.keys())
def test_extreme_finite_values_give_finite_exact_statistics(values: list[float]) -> None:
    acc = Accumulator(0, values[0], 0, 0, DDSketch(0.01))
    for i, v in enumerate(values[1:], 1):
        acc.add(i, v, i)
    r = acc.rollup("d", "s", "TUMBLING", 0, 10)
    total, mean, stddev = exact_stats(values)
    for name in ("sum", "mean", "stddev", "p50", "p99"):
        assert math.isfinite(r[name]), name
    assert r["sum"] == pytest.approx(total, rel=1e-12)
    assert r["mean"] == pytest.approx(mean, rel=1e-12)
    assert r["stddev"] == pytest.approx(stddev, rel=1e-12)
    assert (r["min"], r["max"]) == (min(values), max(values))


def test_ordinary_values_keep_the_unscaled_arithmetic_exactly() -> None:
    """Scale 1.0 multiplies exactly: ordinary windows give the same bits as before."""
    values = [20.5, 19.25, 21.125, 18.0]
    acc = Accumulator(0, values[0], 0, 0, None)
    for i, v in enumerate(values[1:], 1):
        acc.add(i, v, i)
    mean, m2 = values[0], 0.0
    for n, v in enumerate(values[1:], 2):
        delta = v - mean
        mean += delta / n
        m2 += delta * (v - mean)
    assert acc.scale == 1.0
    assert (acc.mean, acc.m2, acc.sum) == (mean, m2, sum(values))


def test_merging_an_ordinary_window_into_a_wide_one_is_exact() -> None:
    values = [1.0, 2.0, 3.0, 1e300, -1e300, 4.0]
    left = Accumulator(0, values[0], 0, 0, None)
    for i, v in enumerate(values[1:3], 1):
        left.add(i, v, i)
    right = Accumulator(3, values[3], 3, 3, None)
    for i, v in enumerate(values[4:], 4):
        right.add(i, v, i)
    left.merge(right)
    r = left.rollup("d", "s", "SESSION", 0, 6)
    total, mean, stddev = exact_stats(values)
    assert r["sum"] == pytest.approx(total, rel=1e-12, abs=1e285)  # 1e300 - 1e300 cancels
    assert r["mean"] == pytest.approx(mean, rel=1e-12, abs=1e285)
    assert r["stddev"] == pytest.approx(stddev, rel=1e-12)
