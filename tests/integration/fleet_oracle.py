"""An out-of-order fleet with quiet devices, and the exact outputs it must produce.

Readings arrive up to ``DISORDER_MS`` out of event-time order (always within the allowed
lateness, so none is late); every 20th device goes quiet early and must raise its silence alert
mid-stream; every 50th device overheats for three steps. The oracle recomputes every window and
every alert from the whole input, in the order each device's readings reach its partition.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from telemetry.rules import SilentRule, ThresholdRule
from telemetry.windows import Hopping, Tumbling, WindowSpec

T0 = 1_700_000_000_000
STEP_MS = 200
DISORDER_MS = 600
LATENESS_MS = 1_000
WINDOWS: tuple[WindowSpec, ...] = (
    Tumbling(size_ms=2_000),
    Hopping(size_ms=4_000, advance_ms=2_000),
)
OVERHEAT = ThresholdRule(name="overheat", sensor="temp", raise_at=120, clear_at=100, debounce=2)
SILENT = SilentRule(name="silent", sensor="temp", after_ms=1_500, severity="CRITICAL")
Reading = dict[str, Any]
RollupKey = tuple[str, str, str, int, int]
AlertKey = tuple[str, str, str, str, float, int]


@dataclass(frozen=True)
class FleetShape:
    devices: int = 1_000
    steps: int = 100
    quiet_from_step: int = 30
    seed: int = 7


def fleet(shape: FleetShape) -> list[Reading]:
    """Readings in arrival order: each one's arrival is its event time plus a random delay."""
    rng = random.Random(shape.seed)
    timed: list[tuple[float, Reading]] = []
    for step in range(shape.steps):
        for d in range(shape.devices):
            if d % 20 == 3 and step >= shape.quiet_from_step:
                continue
            ts = T0 + step * STEP_MS + (d % 7) * 10
            value = 20.0 + d % 10 + math.sin(step / 7) * 3
            if d % 50 == 0 and 40 <= step <= 42:
                value = 150.0
            reading = {"device_id": f"dev-{d:04}", "sensor": "temp", "ts": ts, "value": value}
            reading["seq"] = step
            timed.append((ts + rng.uniform(0, DISORDER_MS), reading))
    timed.sort(key=lambda pair: pair[0])
    return [reading for _, reading in timed]


def expected_rollups(readings: list[Reading]) -> dict[RollupKey, dict[str, float]]:
    series: dict[tuple[str, str, str, int, int], list[Reading]] = defaultdict(list)
    for r in readings:
        for spec in WINDOWS:
            assert isinstance(spec, Tumbling | Hopping)
            advance = spec.advance_ms if isinstance(spec, Hopping) else spec.size_ms
            kind = "HOPPING" if isinstance(spec, Hopping) else "TUMBLING"
            ts = r["ts"]
            for start in range(ts - ts % advance, ts - spec.size_ms, -advance):
                series[r["device_id"], r["sensor"], kind, start, spec.size_ms].append(r)
    out: dict[RollupKey, dict[str, float]] = {}
    for key, rows in series.items():
        values = [r["value"] for r in rows]
        mean = sum(values) / len(values)
        ordered = sorted(rows, key=lambda r: r["ts"])
        out[key] = {
            "count": len(values),
            "min": min(values),
            "max": max(values),
            "sum": sum(values),
            "mean": mean,
            "stddev": math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)),
            "first": ordered[0]["value"],
            "last": ordered[-1]["value"],
        }
    return out


def expected_alerts(readings: list[Reading]) -> set[AlertKey]:
    """Overheat transitions in arrival order; one silence RAISED per device, at its newest
    reading's ts plus the rule's delay (quiet devices mid-stream, the rest after input ends)."""
    alerts: set[AlertKey] = set()
    newest: dict[str, Reading] = {}
    state: dict[str, tuple[bool, int]] = {}
    for r in readings:
        device, value = r["device_id"], r["value"]
        if device not in newest or r["ts"] >= newest[device]["ts"]:
            newest[device] = r
        raised, run = state.get(device, (False, 0))
        wanted = value < OVERHEAT.clear_at if raised else value > OVERHEAT.raise_at
        run = run + 1 if wanted else 0
        if run >= OVERHEAT.debounce:
            raised, run = not raised, 0
            alerts.add(
                (device, "temp", "overheat", "RAISED" if raised else "CLEARED", value, r["ts"])
            )
        state[device] = (raised, run)
    for device, r in newest.items():
        alerts.add((device, "temp", "silent", "RAISED", r["value"], r["ts"] + SILENT.after_ms))
    return alerts


def rollup_key(row: Reading) -> RollupKey:
    return (
        row["device_id"],
        row["sensor"],
        row["window_kind"],
        row["window_start"],
        row["window_size_ms"],
    )


def alert_key(row: Reading) -> AlertKey:
    return (row["device_id"], row["sensor"], row["rule"], row["state"], row["value"], row["ts"])


def compare(
    rollups: list[Reading], alerts: list[Reading], readings: list[Reading]
) -> dict[str, Any]:
    """Every difference from the oracle: missing, unexpected and republished-with-other-values
    rollups, missing and unexpected alerts, and how many identical duplicates there were."""
    want = expected_rollups(readings)
    copies: dict[RollupKey, list[Reading]] = defaultdict(list)
    for row in rollups:
        copies[rollup_key(row)].append(row)
    wrong = []
    differing = []
    for key, rows in copies.items():
        if key not in want:
            continue
        first = rows[0]
        if any(_values(r) != _values(first) for r in rows[1:]):
            differing.append(key)
        if not all(_close(first[name], value) for name, value in want[key].items()):
            wrong.append((key, {n: first[n] for n in want[key]}, want[key]))
    got_alerts = [alert_key(a) for a in alerts]
    want_alerts = expected_alerts(readings)
    return {
        "missing_rollups": sorted(set(want) - set(copies))[:20],
        "missing_rollups_n": len(set(want) - set(copies)),
        "unexpected_rollups": sorted(set(copies) - set(want))[:20],
        "wrong_values": wrong[:10],
        "wrong_values_n": len(wrong),
        "republished_differently": differing[:10],
        "republished_differently_n": len(differing),
        "duplicate_rollups": len(rollups) - len(copies),
        "missing_alerts": sorted(want_alerts - set(got_alerts))[:20],
        "missing_alerts_n": len(want_alerts - set(got_alerts)),
        "unexpected_alerts": sorted(set(got_alerts) - want_alerts)[:20],
        "duplicate_alerts": len(got_alerts) - len(set(got_alerts)),
        "expected_rollups": len(want),
        "expected_alerts": len(want_alerts),
    }


def _values(row: Reading) -> tuple[Any, ...]:
    return tuple(row[n] for n in ("count", "min", "max", "sum", "mean", "stddev", "first", "last"))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
