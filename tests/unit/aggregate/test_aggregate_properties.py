"""The Aggregator against the brute-force oracle over random streams."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.aggregate import ALERT, LATE, ROLLUP, Aggregator, Emitted, Event
from telemetry.codec import Reading
from telemetry.rules import RateOfChangeRule, Rule, SilentRule, ThresholdRule
from telemetry.windows import DEFAULT_RELATIVE_ACCURACY, Hopping, Session, Tumbling, WindowSpec
from tests.unit.aggregate.oracle import Expected, Op, run_oracle

IDLE_TIMEOUT = 5.0
T0 = 1_700_000_000_000
PARTITIONS = [0, 1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reading(device: str, sensor: str, ts: int, value: float, seq: int) -> Reading:
    return {
        "device_id": device,
        "sensor": sensor,
        "ts": ts,
        "value": value,
        "seq": seq,
        "unit": None,
        "battery_level": None,
        "firmware": None,
    }


window_specs = st.one_of(
    st.builds(Tumbling, st.sampled_from([1000, 3000, 10_000]), st.booleans()),
    st.sampled_from([(2000, 1000), (3000, 1000), (5000, 2000), (2000, 2000)]).flatmap(
        lambda sa: st.builds(Hopping, st.just(sa[0]), st.just(sa[1]), st.booleans())
    ),
    st.builds(Session, st.sampled_from([500, 2000, 5000]), st.booleans()),
)


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    return [
        ThresholdRule(
            name="high",
            sensor="a",
            raise_at=70.0,
            clear_at=draw(st.sampled_from([40.0, 70.0])),
            debounce=draw(st.integers(1, 3)),
            severity="CRITICAL",
        ),
        ThresholdRule(
            name="low",
            sensor="b",
            raise_at=10.0,
            clear_at=30.0,
            direction="below",
            debounce=draw(st.integers(1, 2)),
            devices="d[01]",
        ),
        RateOfChangeRule(
            name="jump",
            sensor="a",
            limit_per_s=draw(st.sampled_from([5.0, 20.0])),
            span_ms=draw(st.sampled_from([1000, 5000])),
            debounce=draw(st.integers(1, 2)),
        ),
        SilentRule(name="quiet", sensor="b", after_ms=draw(st.sampled_from([2000, 8000]))),
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Op], list[WindowSpec], list[Rule], int]:
    windows: list[WindowSpec] = draw(
        st.lists(
            window_specs,
            min_size=1,
            max_size=3,
            unique_by=lambda w: 0 if isinstance(w, Session) else w.extent_ms,
        )
    )
    rules = draw(rule_sets())
    lateness = draw(st.sampled_from([0, 500, 3000]))
    n = draw(st.integers(0, 60))
    base = T0
    offsets: dict[Hashable, int] = dict.fromkeys(PARTITIONS, 0)
    events: list[Event] = []
    for seq in range(n):
        if events and draw(st.integers(0, 9)) == 0:  # an exact duplicate, as replays make
            p, _, dup = events[-1]
            events.append((p, offsets[p], dup))
            offsets[p] += 1
            continue
        base += draw(st.sampled_from([0, 100, 500, 1000, 2000, 3000]))
        device = draw(st.sampled_from(["d0", "d1", "d2", "x3"]))
        sensor = draw(st.sampled_from(["a", "b"]))
        jitter = draw(
            st.sampled_from([0, 0, 0, 500, 1000, 2000, 2500, 6000])
        )  # out of order / late
        value = draw(
            st.one_of(
                st.integers(-20, 120).map(float),
                st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).map(
                    lambda x: round(x, 6)
                ),
            )
        )
        p = int(device[-1]) % 2
        events.append((p, offsets[p], reading(device, sensor, base - jitter, value, seq)))
        offsets[p] += 1
    ops: list[Op] = []
    now = 0.0
    i = 0
    while i < len(events) or draw(st.booleans()):
        now += draw(st.sampled_from([0.0, 0.5, 2.0, 6.0, 30.0]))
        if i < len(events) and draw(st.integers(0, 3)):
            size = draw(st.integers(1, 8))
            ops.append(("batch", now, events[i : i + size]))
            i += size
        else:
            ops.append(("tick", now, []))
        if len(ops) > 40 and i >= len(events):
            break
    return ops, windows, rules, lateness


def run_stage(
    ops: list[Op], windows: list[WindowSpec], rules: list[Rule], lateness: int
) -> tuple[Aggregator, list[Emitted]]:
    clock = FakeClock()
    stage = Aggregator(
        windows=windows,
        rules=rules,
        allowed_lateness_ms=lateness,
        idle_timeout=IDLE_TIMEOUT,
        clock=clock,
    )
    for p in PARTITIONS:
        stage.open_partition(p)
    out: list[Emitted] = []
    for op, now, events in ops:
        clock.now = now
        out += stage.process(events) if op == "batch" else stage.on_tick(now)
    return stage, out


def close(actual: float, expected: float, scale: float) -> bool:
    return abs(actual - expected) <= 1e-9 * max(abs(expected), scale, 1e-300)


def quantile_ok(actual: float | None, values: list[float], q: float) -> bool:
    if actual is None:
        return False
    rank = q * (len(values) - 1)
    candidates = {values[math.floor(rank)], values[math.ceil(rank)]}
    alpha = DEFAULT_RELATIVE_ACCURACY
    return any(abs(actual - x) <= alpha * abs(x) + 1e-12 for x in candidates)


def check_rollups(got: list[Emitted], expected: Expected) -> None:
    def identity(r: Any) -> tuple[Any, ...]:
        return (r["device_id"], r["sensor"], r["window_kind"], r["window_start"], r["window_end"])

    want = {identity(r): r for r in expected.rollups}
    have = {identity(e.record): e for e in got}
    assert len(have) == len(got), "a window was emitted twice"
    assert set(have) == set(want)
    for ident, emitted in have.items():
        r = emitted.record
        w = want[ident]
        assert emitted.offset == w["offset"], ident
        for name in ("window_size_ms", "count", "min", "max", "first", "last"):
            assert r[name] == w[name], (ident, name)
        scale = max(abs(v) for v in w["sorted"])
        for name in ("mean", "stddev"):
            assert close(r[name], w[name], scale), (ident, name, r[name], w[name])
        assert close(r["sum"], w["sum"], scale * w["count"]), (ident, r["sum"], w["sum"])
        if w["percentiles"]:
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                assert quantile_ok(r[name], w["sorted"], q), (ident, name, r[name])
        else:
            assert r["p50"] is r["p95"] is r["p99"] is None


def check_alerts(got: list[Emitted], expected: Expected) -> None:
    have: dict[tuple[str, str, str], list[tuple[str, str, float, int]]] = defaultdict(list)
    for e in got:
        a = e.record
        assert a["message"]
        have[a["device_id"], a["sensor"], a["rule"]].append(
            (a["state"], a["severity"], a["value"], a["ts"])
        )
    assert dict(have) == expected.alerts


@settings(max_examples=250, deadline=None)
@given(scenarios())
def test_stage_equals_oracle(scenario: tuple[list[Op], list[WindowSpec], list[Rule], int]) -> None:
    ops, windows, rules, lateness = scenario
    stage, out = run_stage(ops, windows, rules, lateness)
    expected = run_oracle(ops, PARTITIONS, windows, rules, lateness, IDLE_TIMEOUT)
    by_kind: dict[str, list[Emitted]] = defaultdict(list)
    for e in out:
        by_kind[e.kind].append(e)
    check_rollups(by_kind[ROLLUP], expected)
    check_alerts(by_kind[ALERT], expected)
    late = [(e.partition, e.offset) for e in by_kind[LATE]]
    assert len(late) == len(set(late)), "a reading was reported late twice"
    assert set(late) == expected.late
    assert stage.late_total == len(expected.late)
    offsets: dict[Hashable, int | None] = {p: stage.min_open_offset(p) for p in PARTITIONS}
    assert offsets == expected.open_offsets


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_batching_does_not_change_outputs(
    scenario: tuple[list[Op], list[WindowSpec], list[Rule], int], rnd: Any
) -> None:
    """Re-cutting the same readings into other batches (same wall times) changes nothing."""
    ops, windows, rules, lateness = scenario
    single: list[Op] = []
    for op, now, events in ops:
        if op == "tick":
            single.append((op, now, events))
        else:
            single += (
                [("batch", now, [e]) for e in events]
                if rnd.random() < 0.5
                else [("batch", now, events)]
            )
    _, a = run_stage(ops, windows, rules, lateness)
    _, b = run_stage(single, windows, rules, lateness)

    def canon(out: list[Emitted]) -> list[str]:
        return sorted(f"{e.kind}|{e.offset}|{sorted(e.record.items())}" for e in out)

    assert canon(a) == canon(b)
