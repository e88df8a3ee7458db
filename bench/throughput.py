"""W1 throughput: the baseline loop and ``telemetry run``, each in its own process, checked."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from typing import Any

from bench._common import create_topics, delete_topics, proc_stat
from bench._proc import PYTHON, TELEMETRY, Outputs, first_consumed, start, stop, write_config
from bench.observe import Observer
from bench.w1 import W1_RECORDS, Expected

W1_TOPIC = "bench.w1"
RUN_TIMEOUT_S = 900.0
LINGER_S = 1.0
"""After the last expected output: keep watching this long for duplicates before stopping."""


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
    if kind == "baseline":
        argv = [PYTHON, "-m", "bench.baseline", bootstrap, out.group, W1_TOPIC]
        process = start([*argv, out.rollups, out.alerts], log, stdout_pipe=True)
    else:
        config, port = write_config(bootstrap, W1_TOPIC, out)
        process = start([TELEMETRY, "run", "--config", str(config)], log)
    try:
        began = _baseline_start(process) if config is None else first_consumed(process, port)
        at_start = proc_stat(process.pid)
        deadline = began + RUN_TIMEOUT_S
        while not observer.done.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                break
        at_end = proc_stat(process.pid) if process.poll() is None else at_start
        finished = observer.done.is_set()
        time.sleep(LINGER_S)
    finally:
        code = stop(process)
        observer.drain_to_end()
        if config is not None:
            config.unlink()
    verdict = observer.finish()
    delete_topics(bootstrap, *out.topics)
    elapsed = observer.finished_at - began if finished else float("nan")
    result = {
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
    status = "ok" if result["correct"] else f"FAILED {verdict.as_dict()}"
    print(
        f"  {kind:>9} run {index + 1}: {result['events_per_s']:>9,.0f} events/s  "
        f"cpu {result['cpu_s']:.1f} s  peak RSS {result['peak_rss_mb']:.0f} MB  {status}",
        flush=True,
    )
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "runs": runs,
        "events_per_s": stats("events_per_s"),
        "cpu_s": stats("cpu_s"),
        "peak_rss_mb": stats("peak_rss_mb"),
        "correct": all(r["correct"] for r in runs),
    }


def run(bootstrap: str, expected: Expected, runs: int) -> dict[str, Any]:
    """``runs`` rounds, baseline and telemetry interleaved; medians, ranges and the ratio."""
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], "telemetry": []}
    for i in range(runs):
        for kind, kept in results.items():
            kept.append(run_once(bootstrap, kind, expected, i))
    baseline, telemetry = summarize(results["baseline"]), summarize(results["telemetry"])
    b, t = baseline["events_per_s"]["median"], telemetry["events_per_s"]["median"]
    return {
        "workload": {
            "topic": W1_TOPIC,
            "readings": W1_RECORDS,
            "expected_rollups": len(expected.rollups),
            "expected_alerts": len(expected.alerts),
        },
        "baseline": baseline,
        "telemetry": telemetry,
        "ratio": t / b if b else 0.0,
        "ratios_per_round": [
            tr["events_per_s"] / br["events_per_s"] if br["events_per_s"] else 0.0
            for br, tr in zip(results["baseline"], results["telemetry"], strict=True)
        ],
    }
