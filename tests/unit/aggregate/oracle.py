"""A deliberately simple reference: replay every reading, keep every accepted reading, then
recompute every window from scratch. No heaps, no buckets, no incremental statistics."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry.aggregate import Event
from telemetry.rules import RateOfChangeRule, Rule, SilentRule, ThresholdRule, matches
from telemetry.windows import Hopping, Session, Tumbling, WindowSpec

Op = tuple[str, float, list[Event]]
"""("batch", wall time, events) or ("tick", wall time, [])."""

Point = tuple[int, float, int, int]  # ts, value, arrival, offset


@dataclass
class _Part:
    max_ts: int | None = None
    clock: int | None = None
    last_seen: float = 0.0
    arrival: int = 0
    accepted: dict[tuple[str, str, int], list[Point]] = field(
        default_factory=lambda: defaultdict(list)
    )
    seen: dict[tuple[str, str], list[tuple[int, float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # every reading of the key: ts, value, arrival
    silent_raised: dict[tuple[str, str, str], bool] = field(default_factory=dict)


@dataclass
class Expected:
    rollups: list[dict[str, Any]]
    open_offsets: dict[Hashable, int | None]
    alerts: dict[tuple[str, str, str], list[tuple[str, str, float, int]]]
    late: set[tuple[Hashable, int]]


def run_oracle(  # noqa: PLR0912 - brute force, one readable function
    ops: list[Op],
    partitions: Sequence[Hashable],
    windows: list[WindowSpec],
    rules: list[Rule],
    lateness: int,
    idle_timeout: float,
) -> Expected:
    parts = {p: _Part() for p in partitions}
    alerts: dict[tuple[str, str, str], list[tuple[str, str, float, int]]] = defaultdict(list)
    late: set[tuple[Hashable, int]] = set()
    rule_state: dict[tuple[Hashable, str, str, str], dict[str, Any]] = {}

    def alert(dev: str, sen: str, rule: Rule, state: str, value: float, ts: int) -> None:
        alerts[dev, sen, rule.name].append((state, rule.severity, value, ts))

    def fire_silence(part: _Part) -> None:
        assert part.clock is not None
        for (dev, sen), readings in part.seen.items():
            for rule in rules:
                if not isinstance(rule, SilentRule) or not matches(rule, dev, sen):
                    continue
                if part.silent_raised.get((dev, sen, rule.name)):
                    continue
                last_ts, last_value, _ = max(readings, key=lambda r: (r[0], r[2]))
                if last_ts + rule.after_ms <= part.clock:
                    part.silent_raised[dev, sen, rule.name] = True
                    alert(dev, sen, rule, "RAISED", last_value, last_ts + rule.after_ms)

    for op, now, events in ops:
        if op == "tick":
            for part in parts.values():
                assert part.max_ts is not None or part.clock is None
                if part.max_ts is None:
                    continue
                assert part.clock is not None
                if now - part.last_seen >= idle_timeout:
                    part.clock = max(part.clock, part.max_ts + int((now - part.last_seen) * 1000))
                fire_silence(part)  # every tick fires what is due
            continue
        touched = set()
        for p, offset, r in events:
            part = parts[p]
            touched.add(p)
            ts, value, dev, sen = r["ts"], r["value"], r["device_id"], r["sensor"]
            part.arrival += 1
            if part.max_ts is None or ts > part.max_ts:
                part.max_ts = ts
            if part.clock is None or ts > part.clock:
                part.clock = ts
                fire_silence(part)
            wm = part.clock - lateness
            is_late = False
            for i, spec in enumerate(windows):
                if isinstance(spec, Session):
                    if ts < wm:
                        is_late = True
                    else:
                        part.accepted[dev, sen, i * 10**15].append(
                            (ts, value, part.arrival, offset)
                        )
                    continue
                assert isinstance(spec, Tumbling | Hopping)
                advance = spec.advance_ms if isinstance(spec, Hopping) else spec.size_ms
                for start in range(ts - ts % advance, ts - spec.size_ms, -advance):
                    if start + spec.size_ms <= wm:
                        is_late = True
                    else:
                        point = (ts, value, part.arrival, offset)
                        part.accepted[dev, sen, i * 10**15 + start].append(point)
            if is_late:
                late.add((p, offset))
            # rules, in arrival order
            for rule in rules:
                if not matches(rule, dev, sen):
                    continue
                if isinstance(rule, SilentRule):
                    if part.silent_raised.get((dev, sen, rule.name)):
                        part.silent_raised[dev, sen, rule.name] = False
                        alert(dev, sen, rule, "CLEARED", value, ts)
                    continue
                st = rule_state.setdefault((p, dev, sen, rule.name), {"raised": False, "run": 0})
                if isinstance(rule, ThresholdRule):
                    up = rule.direction == "above"
                    breach = value > rule.raise_at if up else value < rule.raise_at
                    clear = value < rule.clear_at if up else value > rule.clear_at
                    wanted = clear if st["raised"] else breach
                else:
                    assert isinstance(rule, RateOfChangeRule)
                    prior = part.seen[dev, sen]
                    if prior and ts <= max(x[0] for x in prior):
                        continue
                    history = st.setdefault("history", [])
                    history.append((ts, value))
                    refs = [h for h in history if ts - rule.span_ms <= h[0] < ts]
                    if not refs:
                        continue
                    ref_ts, ref_value = min(refs)
                    rate = abs(value - ref_value) * 1000.0 / (ts - ref_ts)
                    wanted = (rate > rule.limit_per_s) != st["raised"]
                if wanted:
                    st["run"] += 1
                    if st["run"] >= rule.debounce:
                        st["run"] = 0
                        st["raised"] = not st["raised"]
                        alert(dev, sen, rule, "RAISED" if st["raised"] else "CLEARED", value, ts)
                else:
                    st["run"] = 0
            part.seen[dev, sen].append((ts, value, part.arrival))
        for p in touched:
            parts[p].last_seen = now

    rollups: list[dict[str, Any]] = []
    open_offsets: dict[Hashable, int | None] = {}
    for p, part in parts.items():
        final_wm = None if part.clock is None else part.clock - lateness
        open_min: int | None = None
        for (dev, sen, code), points in part.accepted.items():
            spec = windows[code // 10**15]
            if isinstance(spec, Session):
                for session in _sessions(points, spec.gap_ms):
                    end = max(x[0] for x in session) + spec.gap_ms
                    start = min(x[0] for x in session)
                    last = max(x[0] for x in session)
                    if final_wm is not None and end <= final_wm:
                        rollups.append(_stats(dev, sen, spec, "SESSION", start, last + 1, session))
                    else:
                        open_min = _min(open_min, min(x[3] for x in session))
                continue
            start = code % 10**15
            assert isinstance(spec, Tumbling | Hopping)
            end = start + spec.size_ms
            kind = "HOPPING" if isinstance(spec, Hopping) else "TUMBLING"
            if final_wm is not None and end <= final_wm:
                rollups.append(_stats(dev, sen, spec, kind, start, end, points))
            else:
                open_min = _min(open_min, min(x[3] for x in points))
        open_offsets[p] = open_min
    return Expected(rollups, open_offsets, dict(alerts), late)


def _min(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def _sessions(points: list[Point], gap: int) -> list[list[Point]]:
    out: list[list[Point]] = []
    for point in sorted(points):
        if out and point[0] - out[-1][-1][0] < gap:
            out[-1].append(point)
        else:
            out.append([point])
    return out


def _stats(
    dev: str, sen: str, spec: WindowSpec, kind: str, start: int, end: int, pts: list[Point]
) -> dict[str, Any]:
    values = [x[1] for x in pts]
    first = min(pts, key=lambda x: (x[0], x[2]))
    last = max(pts, key=lambda x: (x[0], x[2]))
    return {
        "device_id": dev,
        "sensor": sen,
        "window_start": start,
        "window_size_ms": end - start,
        "window_kind": kind,
        "window_end": end,
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "sum": math.fsum(values),
        "mean": math.fsum(values) / len(values),
        "stddev": statistics.pstdev(values),
        "first": first[1],
        "last": last[1],
        "percentiles": spec.percentiles,
        "sorted": sorted(values),
        "offset": min(x[3] for x in pts),
    }
