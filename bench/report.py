"""The results table in bench/README.md, regenerated from bench/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench._common import RESULTS, ROOT

README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _range(stats: dict[str, float], fmt: str) -> str:
    return f"{stats['median']:{fmt}} ({stats['min']:{fmt}} - {stats['max']:{fmt}})"


def table() -> str:
    lines: list[str] = []
    w1 = _load("w1")
    if w1:
        runs = len(w1["baseline"]["runs"])
        lines += [
            f"W1 ({w1['date']}; {w1['machine']}; {runs} run(s) each; median (min - max)):",
            "`" + w1["command"] + "`",
            "",
            "| W1 | events/s | CPU s | peak RSS MB | correct |",
            "|---|---|---|---|---|",
        ]
        for kind in ("baseline", "telemetry"):
            r = w1[kind]
            lines.append(
                f"| {kind} | {_range(r['events_per_s'], ',.0f')} | {_range(r['cpu_s'], '.1f')}"
                f" | {_range(r['peak_rss_mb'], '.0f')} | {'yes' if r['correct'] else 'NO'} |"
            )
        per_round = ", ".join(f"{x:.2f}" for x in w1["ratios_per_round"])
        lines += ["", f"telemetry / baseline: **{w1['ratio']:.2f}** (per round: {per_round})", ""]
    lat = _load("latency")
    if lat:
        lines += [
            f"Latency ({lat['date']}): `{lat['command']}`",
            "",
            "| readings/s | anomalies | p50 ms | p99 ms | max ms | missing |",
            "|---|---|---|---|---|---|",
            (
                f"| {lat['achieved_rate']:,.0f} | {lat['anomalies']} | {lat.get('p50_ms', 0):.1f} |"
                f" {lat.get('p99_ms', 0):.1f} | {lat.get('max_ms', 0):.1f} | {lat['missing']} |"
            ),
            "",
        ]
    mem = _load("memory")
    if mem:
        lines += [
            f"Memory under backlog ({mem['date']}): `{mem['command']}`",
            "",
            (
                "| backlog | sink outputs/s | seconds | max RSS MB | growth last min MB |"
                " paused partitions (median) |"
            ),
            "|---|---|---|---|---|---|",
            (
                f"| {mem['backlog']:,} | {mem['sink_rate']:,.0f} | {mem['seconds']} |"
                f" {mem['max_rss_mb']:.0f} | {mem['growth_last_minute_mb']:+.1f} |"
                f" {mem['paused_partitions_median']:.0f} |"
            ),
            "",
        ]
    prof = _load("profile")
    if prof:
        lines += [
            f"Profile of telemetry on W1 (cProfile, {prof['total_s']:.1f} s; top by own time):",
            "",
            "| own s | share | function |",
            "|---|---|---|",
        ]
        for row in prof["top"][:12]:
            share = 100 * row["tottime_s"] / prof["total_s"]
            lines.append(f"| {row['tottime_s']:.2f} | {share:.1f}% | `{row['function']}` |")
        lines.append("")
    return "\n".join(lines) if lines else "(no results yet: run `make bench`)\n"


def write_readme(path: Path = README) -> None:
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")
