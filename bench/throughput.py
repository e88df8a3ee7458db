"""W1 throughput: the baseline loops and ``telemetry run``, each in its own process, checked.

Five kinds per round, interleaved: ``baseline`` (the bare loop a user writes by hand,
``bench/baseline.py``); ``baseline-equal`` (a hand-written loop doing telemetry's work: Avro
outputs, the full accumulator, offset holds; ``bench/baseline_equal.py``); ``telemetry`` (the
default configuration: the state changelog on, so its checkpoints are part of the measured work);
``telemetry-nochangelog`` (the same configuration with ``processing.changelog: false``) and
``telemetry-exactly-once`` (the default with ``processing.guarantee: exactly_once``);
``telemetry-2-workers`` (the default with ``processing.workers: 2``: CPU seconds and peak RSS are
summed over the pod's processes). The
changelog's cost is the ratio of ``telemetry`` to ``telemetry-nochangelog`` in the same round,
exactly-once's the ratio of ``telemetry-exactly-once`` to ``telemetry``.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import threading
import time
from typing import Any

from bench._common import create_topics, metric, scrape, tree_stat
from bench._proc import (
    PYTHON,
    TELEMETRY,
    Outputs,
    delete_outputs,
    first_consumed,
    start,
    stop,
    write_config,
)
from bench.observe import Observer
from bench.w1 import W1_RECORDS, Expected

W1_TOPIC = "bench.w1"
BASELINE, TELEMETRY_KIND, NO_CHANGELOG = "baseline", "telemetry", "telemetry-nochangelog"
EXACTLY_ONCE = "telemetry-exactly-once"
EQUAL_WORK = "baseline-equal"
TWO_WORKERS = "telemetry-2-workers"
KINDS = (BASELINE, EQUAL_WORK, TELEMETRY_KIND, NO_CHANGELOG, EXACTLY_ONCE, TWO_WORKERS)
LOOPS = {BASELINE: "bench.baseline", EQUAL_WORK: "bench.baseline_equal"}
"""Run in this order in every round."""
CHANGELOG_BYTES = "telemetry_state_changelog_bytes_total"
CHANGELOG_RECORDS = "telemetry_state_changelog_records_total"
RUN_TIMEOUT_S = 900.0
LINGER_S = 1.0
"""After the last expected output: keep watching this long for duplicates before stopping."""


_PROCESSING: dict[str, dict[str, object]] = {
    EXACTLY_ONCE: {"guarantee": "exactly_once"},
    TWO_WORKERS: {"workers": 2},
}


def _baseline_start(process: subprocess.Popen[str]) -> float:
    """Read ``first-consumed <monotonic>`` from the baseline's stdout."""
    assert process.stdout is not None  # noqa: S101 - started with a pipe
    box: list[float] = []

    def read() -> None:
        for line in process.stdout or ():
            if line.startswith("first-consumed ") and not box:
                box.append(float(line.split()[1]))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while not box:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("baseline exited or consumed nothing")
        time.sleep(0.005)
    return box[0]


def run_once(bootstrap: str, kind: str, expected: Expected, index: int) -> dict[str, Any]:
    out = Outputs(f"w1-{kind}")
    create_topics(bootstrap, *out.topics)
    observer = Observer(bootstrap, out.rollups, out.alerts, expected)
    observer.start()
    log = f"w1-{kind}-{index}.log"
    config, port = None, 0
    if kind in LOOPS:
        argv = [PYTHON, "-m", LOOPS[kind], bootstrap, out.group, W1_TOPIC]
        process = start([*argv, out.rollups, out.alerts], log, stdout_pipe=True)
    else:
        config, port = write_config(
            bootstrap,
            W1_TOPIC,
            out,
            changelog=kind != NO_CHANGELOG,
            processing=_PROCESSING.get(kind),
        )
        process = start([TELEMETRY, "run", "--config", str(config)], log)
    samples: dict[str, float] = {}
    try:
        began = _baseline_start(process) if config is None else first_consumed(process, port)
        at_start = tree_stat(process.pid)
        deadline = began + RUN_TIMEOUT_S
        while not observer.done.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                break
        at_end = tree_stat(process.pid) if process.poll() is None else at_start
        finished = observer.done.is_set()
        if kind == TELEMETRY_KIND and process.poll() is None:
            samples = scrape(port, 5.0)  # the changelog written up to the last output
        time.sleep(LINGER_S)
    finally:
        code = stop(process)
        observer.drain_to_end()
        if config is not None:
            config.unlink()
    verdict = observer.finish()
    delete_outputs(bootstrap, out)
    elapsed = observer.finished_at - began if finished else float("nan")
    result: dict[str, Any] = {
        "events_per_s": W1_RECORDS / elapsed if finished else 0.0,
        "elapsed_s": elapsed,
        "cpu_s": at_end.cpu_s - at_start.cpu_s,
        "cpu_total_s": at_end.cpu_s,
        "peak_rss_mb": at_end.hwm_mb,
        "outputs_received": observer.received,
        "exit_code": code,
        "correct": finished and verdict.correct,
        "check": verdict.as_dict(),
        "log": f"bench/results/{log}",
    }
    changelog = ""
    if kind == TELEMETRY_KIND:
        result["changelog"] = _changelog(samples, elapsed)
        changelog = (
            f"  changelog {result['changelog']['bytes_per_s'] / 1e6:.2f} MB/s"
            f" {result['changelog']['records_per_s']:,.0f} records/s"
        )
    status = "ok" if result["correct"] else f"FAILED {verdict.as_dict()}"
    print(
        f"  {kind:>21} run {index + 1}: {result['events_per_s']:>9,.0f} events/s  "
        f"cpu {result['cpu_s']:.1f} s  peak RSS {result['peak_rss_mb']:.0f} MB{changelog}"
        f"  {status}",
        flush=True,
    )
    return result


def _changelog(samples: dict[str, float], elapsed: float) -> dict[str, Any]:
    """What the processor wrote to its changelog from its start to the last expected output
    (its /metrics then), and that per second of the run's measured interval."""
    written = metric(samples, CHANGELOG_BYTES, stage=None)
    records = metric(samples, CHANGELOG_RECORDS, stage=None)
    per_s = not math.isnan(elapsed) and elapsed > 0  # NaN: the run did not finish
    return {
        "scraped": bool(samples),
        "bytes": written,
        "records": records,
        "checkpoints": metric(samples, "telemetry_state_checkpoints_total", stage=None),
        "bytes_per_s": written / elapsed if per_s else 0.0,
        "records_per_s": records / elapsed if per_s else 0.0,
    }


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "runs": runs,
        "events_per_s": _stats([r["events_per_s"] for r in runs]),
        "cpu_s": _stats([r["cpu_s"] for r in runs]),
        "peak_rss_mb": _stats([r["peak_rss_mb"] for r in runs]),
        "correct": all(r["correct"] for r in runs),
    }
    if all("changelog" in r for r in runs):
        summary["changelog"] = {
            key: _stats([r["changelog"][key] for r in runs])
            for key in ("bytes_per_s", "records_per_s", "bytes", "records")
        }
    return summary


def _ratios(over: list[dict[str, Any]], under: list[dict[str, Any]]) -> list[float]:
    """events/s of ``over`` / events/s of ``under``, round by round."""
    return [
        o["events_per_s"] / u["events_per_s"] if u["events_per_s"] else 0.0
        for o, u in zip(over, under, strict=True)
    ]


def run(bootstrap: str, expected: Expected, runs: int) -> dict[str, Any]:
    """``runs`` rounds of every kind, interleaved; medians, ranges and the ratios."""
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for i in range(runs):
        for kind, kept in results.items():
            kept.append(run_once(bootstrap, kind, expected, i))
    summaries = {kind: summarize(kept) for kind, kept in results.items()}
    b = summaries[BASELINE]["events_per_s"]["median"]
    equal = summaries[EQUAL_WORK]["events_per_s"]["median"]
    t = summaries[TELEMETRY_KIND]["events_per_s"]["median"]
    off = summaries[NO_CHANGELOG]["events_per_s"]["median"]
    eos = summaries[EXACTLY_ONCE]["events_per_s"]["median"]
    two = summaries[TWO_WORKERS]["events_per_s"]["median"]
    changelog_ratio = t / off if off else 0.0
    return {
        "workload": {
            "topic": W1_TOPIC,
            "readings": W1_RECORDS,
            "expected_rollups": len(expected.rollups),
            "expected_alerts": len(expected.alerts),
        },
        **summaries,
        "ratio": t / b if b else 0.0,
        "ratios_per_round": _ratios(results[TELEMETRY_KIND], results[BASELINE]),
        "equal_work_ratio": t / equal if equal else 0.0,
        "equal_work_ratios_per_round": _ratios(results[TELEMETRY_KIND], results[EQUAL_WORK]),
        # The changelog's cost: telemetry with it (the default) / the same without it.
        "changelog_ratio": changelog_ratio,
        "changelog_cost": 1.0 - changelog_ratio if off else 0.0,
        "changelog_ratios_per_round": _ratios(results[TELEMETRY_KIND], results[NO_CHANGELOG]),
        # Exactly-once against at-least-once (both with the changelog), same rounds.
        "exactly_once_ratio": eos / t if t else 0.0,
        "exactly_once_ratios_per_round": _ratios(results[EXACTLY_ONCE], results[TELEMETRY_KIND]),
        "two_workers_ratio": two / t if t else 0.0,
        "two_workers_ratios_per_round": _ratios(results[TWO_WORKERS], results[TELEMETRY_KIND]),
    }
