"""The sliding window kind: one window of ``size_ms`` per pane of a key that holds a reading."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from telemetry.aggregate import LATE, ROLLUP, Aggregator, Emitted, Event
from telemetry.errors import ConfigError
from telemetry.windows import Sliding, Tumbling
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading

T0 = 1_700_000_040_000


def ev(offset: int, ts: int, value: float = 1.0, device: str = "d") -> Event:
    return (0, offset, reading(device, "s", T0 + ts, value, offset))


def make(spec: Sliding, lateness: int = 0) -> tuple[Aggregator, FakeClock]:
    clock = FakeClock()
    agg = Aggregator(windows=(spec,), allowed_lateness_ms=lateness, idle_timeout=5.0, clock=clock)
    agg.open_partition(0)
    return agg, clock


def finish(agg: Aggregator, clock: FakeClock) -> list[Emitted]:
    clock.now += 1_000.0
    out: list[Emitted] = []
    while True:
        more = agg.on_tick(clock.now)
        out.extend(more)
        if not more and not agg.tick_pending():
            return out


def windows(out: list[Emitted]) -> list[tuple[str, int, int, int, float]]:
    return sorted(
        (
            e.record["device_id"],
            e.record["window_start"] - T0,
            e.record["window_end"] - T0,
            e.record["count"],
            e.record["sum"],
        )
        for e in out
        if e.kind == ROLLUP
    )


def test_one_window_per_pane_with_a_reading_covering_the_trailing_size() -> None:
    agg, clock = make(Sliding(3_000, every_ms=1_000))
    out = agg.process([ev(0, 100, 1.0), ev(1, 1_500, 2.0), ev(2, 1_700, 4.0), ev(3, 4_200, 8.0)])
    out += finish(agg, clock)
    assert windows(out) == [
        ("d", -2_000, 1_000, 1, 1.0),
        ("d", -1_000, 2_000, 3, 7.0),
        ("d", 2_000, 5_000, 1, 8.0),  # the pane at 0 has gone: [2000, 5000) holds one reading
    ]
    [r] = [e.record for e in out if e.kind == ROLLUP and e.record["window_end"] == T0 + 2_000]
    assert (r["window_kind"], r["window_size_ms"], r["min"], r["max"]) == ("SLIDING", 3_000, 1, 4)
    assert (r["first"], r["last"]) == (1.0, 4.0)
    state = agg.state(0)
    assert state is not None
    assert state.open_windows() == 0  # every pane dropped once no window can need it
    assert agg.min_open_offset(0) is None


def test_a_window_closes_at_its_end_and_holds_its_oldest_offset() -> None:
    agg, _ = make(Sliding(2_000, every_ms=500))
    assert agg.process([ev(0, 0), ev(1, 400)]) == []
    assert agg.min_open_offset(0) == 0
    out = agg.process([ev(2, 1_000)])  # the watermark reaches 1000: [-1500, 500) closes
    assert [(e.record["window_end"] - T0, e.record["count"], e.offset) for e in out] == [
        (500, 2, 0)
    ]
    assert agg.min_open_offset(0) == 0  # the pane at 0 is in every window up to 2000
    out = agg.process([ev(3, 2_000)])
    assert [(e.record["window_end"] - T0, e.record["count"]) for e in out] == [(1_500, 3)]
    assert agg.min_open_offset(0) == 2  # the pane at 0 has gone


def test_a_reading_whose_pane_has_closed_is_late() -> None:
    agg, _ = make(Sliding(2_000, every_ms=1_000), lateness=100)
    agg.process([ev(0, 2_500)])  # the watermark is 2400: panes ending by then have closed
    out = agg.process([ev(1, 1_500), ev(2, 2_000)])
    assert [e.offset for e in out if e.kind == LATE] == [1]


def oracle(
    stream: list[tuple[int, str, float]], size: int, every: int, lateness: int
) -> list[tuple[str, int, int, int, float]]:
    """The definition, brute force: accepted readings, then one window per non-empty pane."""
    clock = -(2**62)
    accepted: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for ts, device, value in stream:
        clock = max(clock, ts)
        if ts - ts % every + every > clock - lateness:
            accepted[device].append((ts, value))
    out = []
    for device, points in accepted.items():
        for end in sorted({ts - ts % every + every for ts, _ in points}):
            inside = [v for ts, v in points if end - size <= ts < end]
            out.append((device, end - size, end, len(inside), sum(inside)))
    return sorted(out)


@pytest.mark.parametrize(("size", "every", "lateness"), [(3_000, 1_000, 0), (1_000, 1, 400)])
def test_out_of_order_readings_match_the_definition(size: int, every: int, lateness: int) -> None:
    rng = random.Random(7)
    stream = [
        (i * 37 + rng.randrange(-600, 600), f"d{rng.randrange(4)}", float(rng.randrange(10)))
        for i in range(600)
    ]
    agg, clock = make(Sliding(size, every_ms=every), lateness=lateness)
    out: list[Emitted] = []
    events = [ev(i, ts, value, device) for i, (ts, device, value) in enumerate(stream)]
    for i in range(0, len(events), 25):
        out += agg.process(events[i : i + 25])
    out += finish(agg, clock)
    got = [(d, s, e, n, round(total, 6)) for d, s, e, n, total in windows(out)]
    assert got == oracle(stream, size, every, lateness)


def test_bad_sliding_parameters_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"size_ms \(1500\) must be a multiple of every_ms"):
        Sliding(1_500)
    with pytest.raises(ConfigError, match="every_ms must be a positive int"):
        Sliding(1_000, every_ms=0)


def test_a_sliding_and_a_tumbling_spec_of_one_size_would_collide() -> None:
    with pytest.raises(ConfigError, match="sizes must be distinct"):
        Aggregator(windows=(Tumbling(1_000), Sliding(1_000)))


def test_closing_keeps_up_with_one_shot_devices_under_the_smallest_close_budget() -> None:
    """Plug-in windows pace closing like the built-ins: a pass of new devices' readings buys
    the closes of the windows that came due, not only the per-pass minimum."""
    clock = FakeClock()
    spec = Sliding(size_ms=1_000, every_ms=1_000)
    agg = Aggregator(windows=(spec,), idle_timeout=5.0, clock=clock, close_budget=1)
    agg.open_partition(0)
    agg.process([ev(i, 1_000 + i, device=f"once-{i}") for i in range(100)])
    out = agg.process([ev(100 + i, 5_000 + i, device=f"next-{i}") for i in range(100)])
    assert len([e for e in out if e.kind == ROLLUP]) == 100
