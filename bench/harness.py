"""The benchmark harness of issues 8 and 12: W1 throughput (with and without the state
changelog), alert latency, memory under backlog, a profile, and the changelog's restore time.

    python -m bench.harness [all | w1 | latency | memory | profile | restore | fuzz ...]

Uses the broker at $TELEMETRY_BENCH_BOOTSTRAP, or starts the local one (127.0.0.1:9092).
Results go to bench/results/<scenario>.json and the table in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from typing import Any

from bench import backlog, fuzz, latency, restore, throughput
from bench._common import RESULTS
from bench.profiling import profile_w1
from bench.report import write_readme
from bench.w1 import W1_RECORDS, ensure_topic, expected
from tools.localkafka import LocalKafka

DEFAULT_LATENCY_RATE = 20_000.0
SCENARIOS = ("w1", "latency", "memory", "profile", "restore", "fuzz")


def _save(name: str, result: dict[str, Any], command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        **result,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    # A str default: Python 3.11's argparse checks a list default of nargs="*" against choices.
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="W1 rounds (baseline, telemetry, telemetry-nochangelog)",
    )
    parser.add_argument(
        "--latency-rate", type=float, default=DEFAULT_LATENCY_RATE, help="readings/s"
    )
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--backlog", type=int, default=5_000_000, help="readings waiting")
    parser.add_argument("--memory-seconds", type=int, default=120)
    parser.add_argument(
        "--no-changelog",
        action="store_true",
        help="latency and memory with processing.changelog: false (W1 runs both anyway)",
    )
    parser.add_argument(
        "--guarantee",
        choices=("at_least_once", "exactly_once"),
        default="at_least_once",
        help="processing.guarantee of the latency scenario",
    )
    parser.add_argument(
        "--commit-interval",
        type=float,
        metavar="S",
        help="processing.commit_interval_s of the latency scenario (default: the processor's)",
    )
    parser.add_argument(
        "--sink-rate", type=float, default=0.0, help="throttled sink, outputs/s (0: 1%% of W1)"
    )
    parser.add_argument("--restore-keys", type=int, default=restore.KEYS, help="keys restored")
    parser.add_argument("--restore-runs", type=int, default=restore.RUNS, help="timed restores")
    parser.add_argument(
        "--fuzz-records", type=int, default=fuzz.RECORDS, help="mutated records through the run"
    )
    return parser


def scenarios(args: argparse.Namespace) -> tuple[str, ...]:
    """The scenarios to run, in harness order (none named: all of them)."""
    named = [args.scenarios] if isinstance(args.scenarios, str) else args.scenarios
    return SCENARIOS if "all" in named else tuple(s for s in SCENARIOS if s in named)


def latency_processing(args: argparse.Namespace) -> dict[str, object]:
    processing: dict[str, object] = {}
    if args.guarantee != "at_least_once":
        processing["guarantee"] = args.guarantee
    if args.commit_interval is not None:
        processing["commit_interval_s"] = args.commit_interval
    return processing


def latency_name(args: argparse.Namespace) -> str:
    """Where a latency result goes: variants sit beside the default's (``latency.json``)."""
    name = "latency"
    if args.no_changelog:
        name += "-nochangelog"
    if args.guarantee != "at_least_once":
        name += "-" + args.guarantee.replace("_", "-")
    if args.commit_interval is not None:
        name += f"-commit-{args.commit_interval * 1000:.0f}ms"
    if args.latency_rate != DEFAULT_LATENCY_RATE:
        name += f"-{args.latency_rate:.0f}rps"
    return name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = scenarios(args)
    command = shlex.join(["python", "-m", "bench.harness", *(argv or sys.argv[1:])])
    bootstrap = os.environ.get("TELEMETRY_BENCH_BOOTSTRAP")
    kafka = None
    if not bootstrap:
        kafka = LocalKafka()
        if not kafka.start():
            kafka = None  # already running: leave it running
        bootstrap = LocalKafka().settings.bootstrap
    try:
        if "w1" in chosen or "profile" in chosen:
            ensure_topic(bootstrap, throughput.W1_TOPIC, W1_RECORDS)
            want = expected(W1_RECORDS)
        if "w1" in chosen:
            kinds = " + ".join(throughput.KINDS)
            print(f"W1: {args.runs} round(s) of {kinds} on {bootstrap}", flush=True)
            _save("w1", throughput.run(bootstrap, want, args.runs), command)
        # Without the changelog: kept beside the default's results, not in the README table.
        variant = "-nochangelog" if args.no_changelog else ""
        if "latency" in chosen:
            print(f"latency: {args.latency_rate:,.0f} readings/s for {args.latency_seconds:.0f} s")
            result = latency.run(
                bootstrap,
                args.latency_rate,
                args.latency_seconds,
                changelog=not args.no_changelog,
                processing=latency_processing(args),
            )
            _save(latency_name(args), result, command)
        if "memory" in chosen:
            rate = args.sink_rate or backlog.default_sink_rate()
            print(f"memory: {args.backlog:,} waiting, sink {rate:,.0f} outputs/s", flush=True)
            result = backlog.run(
                bootstrap, args.backlog, rate, args.memory_seconds, changelog=not args.no_changelog
            )
            _save("memory" + variant, result, command)
        if "profile" in chosen:
            _save("profile", profile_w1(bootstrap, want), command)
        if "restore" in chosen:
            print(f"restore: {args.restore_keys:,} keys, {args.restore_runs} run(s)", flush=True)
            result = restore.run(bootstrap, args.restore_keys, args.restore_runs)
            _save("restore", result, command)
        if "fuzz" in chosen:
            print(f"fuzz: {args.fuzz_records:,} mutated records through telemetry run", flush=True)
            _save("fuzz", fuzz.run(bootstrap, args.fuzz_records), command)
    finally:
        if kafka is not None:
            kafka.stop()
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
