"""The results table in bench/README.md, regenerated from bench/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench._common import RESULTS, ROOT

README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
W1_KINDS = (
    "baseline",
    "baseline-equal",
    "telemetry",
    "telemetry-nochangelog",
    "telemetry-exactly-once",
    "telemetry-2-workers",
)
CHANGELOG_COST_TARGET = 0.10
"""Issue 12: the changelog costs at most 10% of W1's throughput."""


def _cpu_per_million(w1: dict[str, Any], kind: str) -> str:
    per_run = w1["workload"]["readings"] / 1e6
    return f"{w1[kind]['cpu_s']['median'] / per_run:.1f}"


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
        for kind in W1_KINDS:
            r = w1.get(kind)
            if r is None:
                continue  # results of a harness from before the kind existed
            lines.append(
                f"| {kind} | {_range(r['events_per_s'], ',.0f')} | {_range(r['cpu_s'], '.1f')}"
                f" | {_range(r['peak_rss_mb'], '.0f')} | {'yes' if r['correct'] else 'NO'} |"
            )
        lines += [
            "",
            (
                f"telemetry / baseline (the bare loop): **{w1['ratio']:.2f}**"
                f" ({_rounds(w1['ratios_per_round'])})"
            ),
        ]
        if "equal_work_ratio" in w1:
            lines += [
                "",
                (
                    "telemetry / baseline-equal (the equal-work loop):"
                    f" **{w1['equal_work_ratio']:.2f}**"
                    f" ({_rounds(w1['equal_work_ratios_per_round'])})"
                ),
            ]
        lines += _changelog_lines(w1)
        if "exactly_once_ratio" in w1:
            lines += [
                "",
                (
                    "exactly-once / at-least-once (telemetry-exactly-once / telemetry):"
                    f" **{w1['exactly_once_ratio']:.2f}**"
                    f" ({_rounds(w1['exactly_once_ratios_per_round'])})"
                ),
            ]
        if "two_workers_ratio" in w1:
            lines += [
                "",
                (
                    "2 workers / 1 (telemetry-2-workers / telemetry):"
                    f" **{w1['two_workers_ratio']:.2f}**"
                    f" ({_rounds(w1['two_workers_ratios_per_round'])}); CPU s per million"
                    f" readings: {_cpu_per_million(w1, 'telemetry')} with 1,"
                    f" {_cpu_per_million(w1, 'telemetry-2-workers')} with 2"
                ),
            ]
        lines.append("")
    lines += _latency_lines()
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
    lines += _restore_lines(_load("restore"))
    lines += _fuzz_lines(_load("fuzz"))
    return "\n".join(lines) if lines else "(no results yet: run `make bench`)\n"


def _latency_lines() -> list[str]:
    """One row per latency variant on record, each with its own command and date."""
    names = sorted(path.stem for path in RESULTS.glob("latency*.json"))
    rows = [(name, lat) for name in names if (lat := _load(name)) is not None]
    if not rows:
        return []
    lines = [
        "Alert latency (one row per saved run of each variant):",
        "",
        "| variant | date | readings/s | anomalies | p50 / p99 / max ms | missing | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, lat in rows:
        lines.append(
            f"| {name} | {lat['date']} | {lat['achieved_rate']:,.0f} | {lat['anomalies']} |"
            f" {lat.get('p50_ms', 0):.1f} / {lat.get('p99_ms', 0):.1f} /"
            f" {lat.get('max_ms', 0):.1f} | {lat['missing']} | `{lat['command']}` |"
        )
    return [*lines, ""]


def _rounds(ratios: list[float]) -> str:
    return "per round: " + ", ".join(f"{x:.2f}" for x in ratios)


def _changelog_lines(w1: dict[str, Any]) -> list[str]:
    """The changelog's cost (telemetry with it / without it) and what it wrote."""
    if "changelog_ratio" not in w1:
        return []
    ratio = w1["changelog_ratio"]
    cost = 1 - ratio
    verdict = "within" if cost <= CHANGELOG_COST_TARGET else "over"
    costs = (
        f"costs {cost:.0%} of throughput"
        if cost > 0
        else f"costs nothing measurable (the median with it is {-cost:.0%} faster)"
    )
    lines = [
        "",
        (
            f"changelog on / off (telemetry / telemetry-nochangelog): **{ratio:.2f}**"
            f" ({_rounds(w1['changelog_ratios_per_round'])}): the changelog {costs},"
            f" {verdict} the target of at most {CHANGELOG_COST_TARGET:.0%}"
        ),
    ]
    written = w1["telemetry"].get("changelog")
    if written:
        lines += [
            "",
            (
                "changelog written under W1 (telemetry, to the last expected output):"
                f" {_range(_scaled(written['bytes_per_s'], 1e-6), '.2f')} MB/s,"
                f" {_range(written['records_per_s'], ',.0f')} records/s"
                f" ({_range(_scaled(written['bytes'], 1e-6), '.1f')} MB,"
                f" {_range(written['records'], ',.0f')} records per run; key + value bytes as"
                " produced, before compression)"
            ),
        ]
    return lines


def _scaled(stats: dict[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in stats.items()}


def _restore_lines(res: dict[str, Any] | None) -> list[str]:
    if not res:
        return []
    met = "met" if res["within_target"] else "NOT met"
    return [
        (
            f"Restore of {res['keys']:,} keys from the changelog ({res['date']};"
            f" {len(res['runs'])} run(s); median (min - max)): `{res['command']}`"
        ),
        "",
        "| keys | open windows | seconds | read s | apply s | records read | MB read | correct |",
        "|---|---|---|---|---|---|---|---|",
        (
            f"| {res['keys']:,} | {res['open_windows']:,} | {_range(res['seconds'], '.2f')} |"
            f" {_range(res['read_s'], '.2f')} | {_range(res['apply_s'], '.2f')} |"
            f" {res['records']['median']:,.0f} | {res['bytes']['median'] / 1e6:.1f} |"
            f" {'yes' if res['correct'] else 'NO'} |"
        ),
        "",
        f"target under {res['target_s']:g} s: {met}",
        "",
    ]


def _fuzz_lines(res: dict[str, Any] | None) -> list[str]:
    if not res:
        return []
    reasons = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(res["dead_letter_reasons"].items()))
    return [
        f"Fuzzing through `telemetry run` ({res['date']}): `{res['command']}`",
        "",
        (
            "| records | seconds | dead letters | decode events | stage failures"
            " | committed to end | exit | correct |"
        ),
        "|---|---|---|---|---|---|---|---|",
        (
            f"| {res['records']:,} | {res['seconds']:.0f} | {res['dead_letters']:,.0f} |"
            f" {res['decode_events']:,.0f} | {res['stage_failures']:,.0f} |"
            f" {'yes' if res['committed_to_end'] else 'NO'} | {res['exit_code']} |"
            f" {'yes' if res['correct'] else 'NO'} |"
        ),
        "",
        (
            f"dead letters by reason: {reasons}; re-keyed (key not the device id, produced"
            f" again keyed by it, so consumed and decoded twice): {res.get('rekeyed', 0):,.0f}"
        ),
        "",
    ]


def write_readme(path: Path = README) -> None:
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")
