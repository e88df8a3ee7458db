"""Unit tests of the Aggregator: each window kind, the idle clock, lateness, offsets."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from telemetry.aggregate import ALERT, LATE, ROLLUP, Aggregator, Emitted, Event
from telemetry.errors import ConfigError
from telemetry.rules import SilentRule
from telemetry.windows import Hopping, Session, Tumbling, WindowSpec
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading

T0 = 1_700_000_040_000  # a multiple of one minute


def ev(offset: int, ts: int, value: float = 1.0, device: str = "d", p: int = 0) -> Event:
    return (p, offset, reading(device, "s", T0 + ts, value, offset))


def make(*windows: WindowSpec, lateness: int = 0, **kw: object) -> tuple[Aggregator, FakeClock]:
    clock = FakeClock()
    stage = Aggregator(
        windows=windows,
        allowed_lateness_ms=lateness,
        idle_timeout=5.0,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )
    stage.open_partition(0)
    return stage, clock


def rollups(out: list[Emitted]) -> list[tuple[int, int, int]]:
    return [
        (e.record["window_start"] - T0, e.record["window_end"] - T0, e.record["count"])
        for e in out
        if e.kind == ROLLUP
    ]


def test_tumbling_closes_at_watermark_with_statistics() -> None:
    stage, _ = make(Tumbling(1000))
    out = stage.process([ev(0, 0, 1.0), ev(1, 500, 3.0), ev(2, 999, 2.0)])
    assert out == []
    assert stage.min_open_offset(0) == 0
    out = stage.process([ev(3, 1000, 9.0)])
    [rollup] = [e for e in out if e.kind == ROLLUP]
    r = rollup.record
    assert (r["count"], r["min"], r["max"], r["sum"], r["mean"]) == (3, 1.0, 3.0, 6.0, 2.0)
    assert r["stddev"] == pytest.approx((2 / 3) ** 0.5)
    assert (r["first"], r["last"], r["window_kind"], r["window_size_ms"]) == (
        1.0,
        2.0,
        "TUMBLING",
        1000,
    )
    assert rollup.offset == 0
    assert rollup.key == "d"
    assert stage.min_open_offset(0) == 3


def test_first_last_ties_go_by_arrival() -> None:
    stage, _ = make(Tumbling(1000))
    stage.process([ev(0, 10, 1.0), ev(1, 10, 2.0), ev(2, 5, 3.0), ev(3, 5, 4.0)])
    [r] = [e.record for e in stage.process([ev(4, 2000)]) if e.kind == ROLLUP]
    assert (r["first"], r["last"]) == (3.0, 2.0)


def test_hopping_reading_lands_in_every_covering_window() -> None:
    stage, _ = make(Hopping(3000, 1000))
    stage.process([ev(0, 2500)])
    out = stage.process([ev(1, 10_000)])
    assert sorted(rollups(out)) == [(0, 3000, 1), (1000, 4000, 1), (2000, 5000, 1)]


def test_session_gap_is_exclusive_and_out_of_order_bridges() -> None:
    stage, _ = make(Session(1000), lateness=5000)
    # 0 | 1000 are exactly one gap apart: separate; 2800 and 3500 together
    stage.process([ev(0, 0), ev(1, 1000), ev(2, 2800), ev(3, 3500)])
    stage.process([ev(4, 1900)])  # bridges 1000 and 2800 (each less than a gap away)
    out = stage.process([ev(5, 20_000)])
    assert sorted(rollups(out)) == [(0, 1, 1), (1000, 3501, 4)]
    [r] = [e.record for e in out if e.kind == ROLLUP and e.record["count"] == 4]
    assert (r["window_kind"], r["window_size_ms"]) == ("SESSION", 2501)


def test_session_merge_from_the_left_needs_less_than_a_gap() -> None:
    stage, _ = make(Session(1000), lateness=5000)
    stage.process([ev(0, 3000), ev(1, 2500), ev(2, 1501)])
    assert sorted(rollups(stage.process([ev(3, 20_000)]))) == [(1501, 3001, 3)]
    stage, _ = make(Session(1000), lateness=5000)
    stage.process([ev(0, 3000), ev(1, 2500), ev(2, 1500)])  # exactly one gap: its own session
    out = stage.process([ev(3, 20_000)])
    assert sorted(rollups(out)) == [(1500, 1501, 1), (2500, 3001, 2)]


def test_late_reading_is_reported_not_merged() -> None:
    stage, _ = make(Tumbling(1000), lateness=200)
    stage.process([ev(0, 100), ev(1, 1250)])  # watermark 1050 closes [0, 1000)
    out = stage.process([ev(2, 900, 5.0), ev(3, 1100)])
    late = [e for e in out if e.kind == LATE]
    assert [(e.offset, e.record["value"]) for e in late] == [(2, 5.0)]
    assert stage.late_total == 1


def test_idle_clock_closes_the_last_windows() -> None:
    stage, clock = make(Tumbling(1000), Tumbling(60_000), lateness=500)
    stage.process([ev(0, 100), ev(1, 200)])
    assert stage.on_tick(4.0) == []  # not idle yet
    out = stage.on_tick(5.0)  # idle: clock = max ts + 5 s
    assert rollups(out) == [(0, 1000, 2)]
    out = stage.on_tick(61.0)
    assert rollups(out) == [(0, 60_000, 2)]
    assert stage.min_open_offset(0) is None
    clock.now = 62.0
    out = stage.process([ev(2, 300)])  # far behind the advanced watermark
    assert [e.kind for e in out] == [LATE]


def test_silent_device_raises_on_idle_clock_and_clears_on_next_reading() -> None:
    rule = SilentRule(name="quiet", sensor="s", after_ms=10_000, severity="CRITICAL")
    stage, clock = make(Tumbling(1000), rules=[rule])
    stage.process([ev(0, 0, 7.0)])
    assert [e for e in stage.on_tick(9.0) if e.kind == ALERT] == []
    [raised] = [e for e in stage.on_tick(10.0) if e.kind == ALERT]
    assert raised.record["state"] == "RAISED"
    assert (raised.record["ts"], raised.record["value"]) == (T0 + 10_000, 7.0)
    assert raised.offset == -1
    assert [e for e in stage.on_tick(20.0) if e.kind == ALERT] == []  # not repeated
    clock.now = 21.0
    [cleared] = [e for e in stage.process([ev(1, 30_000, 8.0)]) if e.kind == ALERT]
    assert (cleared.record["state"], cleared.record["value"], cleared.offset) == (
        "CLEARED",
        8.0,
        1,
    )


def test_own_gap_raises_then_clears() -> None:
    rule = SilentRule(name="quiet", sensor="s", after_ms=1000)
    stage, _ = make(Tumbling(1000), rules=[rule])
    out = stage.process([ev(0, 0), ev(1, 5000)])
    states = [(e.record["state"], e.record["ts"] - T0) for e in out if e.kind == ALERT]
    assert states == [("RAISED", 1000), ("CLEARED", 5000)]


def test_partitions_are_independent_and_dropped_on_close() -> None:
    stage, _ = make(Tumbling(1000))
    stage.open_partition(1)
    out = stage.process([ev(0, 0, p=0), ev(0, 5000, p=1), ev(1, 100, p=0)])
    assert out == []  # partition 1's watermark does not close partition 0's windows
    assert (stage.min_open_offset(0), stage.min_open_offset(1)) == (0, 0)
    stage.close_partition(1)
    assert stage.process([ev(1, 9000, p=1)]) == []
    assert stage.unassigned_total == 1
    assert stage.min_open_offset(1) is None
    assert stage.partitions == [0]


def test_percentiles_only_when_configured() -> None:
    stage, _ = make(Tumbling(1000, percentiles=True), Tumbling(2000))
    stage.process([ev(i, i, float(i)) for i in range(100)])
    out = stage.process([ev(100, 5000)])
    by_size = {e.record["window_size_ms"]: e.record for e in out if e.kind == ROLLUP}
    assert by_size[1000]["p50"] == pytest.approx(49.0, rel=0.01)
    assert by_size[1000]["p99"] == pytest.approx(98.0, rel=0.01)
    assert by_size[2000]["p50"] is None


@pytest.mark.parametrize(
    "windows",
    [
        [],
        [Tumbling(1000), Hopping(1000, 500)],
        [Session(1000), Session(2000)],
    ],
)
def test_colliding_window_identities_are_rejected(windows: list[WindowSpec]) -> None:
    with pytest.raises(ConfigError):
        Aggregator(windows=windows)


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ConfigError):
        Hopping(1000, 2000)
    with pytest.raises(ConfigError):
        Tumbling(0)
    with pytest.raises(ConfigError):
        Aggregator(windows=[Tumbling(1000)], allowed_lateness_ms=-1)


def test_a_burst_of_closing_windows_is_spread_over_passes() -> None:
    stage, clock = make(Tumbling(1000), close_budget=10)
    # 35 devices with a window each; then one reading moves the watermark past them all.
    stage.process([ev(d, 0, device=f"d{d}") for d in range(35)])
    out = stage.process([ev(35, 1000, device="d0")])
    assert len(rollups(out)) == 10  # the budget, not all 35
    assert stage.tick_pending()
    closed = len(rollups(out))
    ticks = 0
    while stage.tick_pending():
        closed += len(rollups(stage.on_tick(clock.now)))
        ticks += 1
    assert (closed, ticks) == (35, 3)  # 10 per tick, nothing lost or repeated
    assert stage.min_open_offset(0) == 35


def test_closing_keeps_up_with_input_larger_than_the_budget() -> None:
    stage, _ = make(Tumbling(1000), close_budget=1)
    stage.process([ev(d, 0, device=f"d{d}") for d in range(20)])
    # A batch of 20 readings closes (at least) 20 windows whatever the budget.
    out = stage.process([ev(20 + d, 1000, device=f"d{d}") for d in range(20)])
    assert len(rollups(out)) == 20
    assert not stage.tick_pending()


@pytest.mark.parametrize("bound", [None, 1_000])
def test_a_device_clock_ahead_does_not_make_everyone_late(bound: int | None) -> None:
    """One reading dated 4 minutes ahead (inside max_future_ms, so it is decoded): with the
    clock bounded to the wall clock plus ``bound`` it joins its window, and every other
    device's readings after it still count. Unbounded, they all came late."""
    wall = 1_800_000_000.0  # the wall clock, seconds
    now_ms = int(wall * 1000)
    agg = Aggregator(
        windows=(Tumbling(10_000),),
        allowed_lateness_ms=5_000,
        max_clock_ahead_ms=bound,
        wall_clock=lambda: wall,
        clock=FakeClock(),
    )
    agg.open_partition(0)
    before: list[Event] = [
        (0, i, reading(f"d{i % 10}", "s", now_ms - 3_000 + i, 1.0, i)) for i in range(100)
    ]
    skewed: list[Event] = [(0, 100, reading("skewed", "s", now_ms + 240_000, 1.0, 0))]
    after: list[Event] = [
        (0, 101 + i, reading(f"d{i % 10}", "s", now_ms - 2_000 + i, 1.0, i)) for i in range(100)
    ]
    out = agg.process(before) + agg.process(skewed) + agg.process(after)
    late = [e for e in out if e.kind == LATE]
    if bound is None:
        assert len(late) == 100  # the old behaviour: the skewed clock closed everyone's window
    else:
        assert late == []
        state = agg.state(0)
        assert state is not None
        assert state.clock == now_ms + bound
        assert state.keys["skewed", "s"].wins[0]  # its window is open, waiting for the clock


@pytest.mark.parametrize(
    "spec", [Tumbling(1000), Hopping(1000, 500), Session(300)], ids=["tumbling", "hop", "session"]
)
def test_values_near_1e300_give_finite_statistics_in_every_window_kind(spec: WindowSpec) -> None:
    """The tumbling path inlines the accumulator; hopping and session windows call it."""
    values = [1.0, 1e300, -1e300, 7e299, 2.5, -9e299, 1.1e300, 3.0]
    stage, _ = make(spec)
    stage.process([ev(i, 100 + 100 * i, v) for i, v in enumerate(values)])
    out = stage.process([ev(len(values), 5_000, 0.0)])
    [r] = [e.record for e in out if e.kind == ROLLUP and e.record["window_start"] <= T0 + 100]
    assert r["count"] == len(values)
    exact_total = sum(Fraction(v) for v in values)
    mean = exact_total / len(values)
    variance = sum((Fraction(v) - mean) ** 2 for v in values) / len(values)
    assert r["sum"] == pytest.approx(float(exact_total), rel=1e-12)
    assert r["mean"] == pytest.approx(float(mean), rel=1e-12)
    assert r["stddev"] == pytest.approx(math.sqrt(variance / 2**1200) * 2.0**600, rel=1e-12)
