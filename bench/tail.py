"""Where the alert-latency tail comes from: the latency scenario with an instrumented processor.

    .venv/bin/python -m bench.tail [--seconds 60] [--rate 20000] [--processing '{...}']

The processor runs ``telemetry run`` in-process with its pipeline steps, checkpoint methods and
the garbage collector timed (``--child``, below); it records every GC pause over 3 ms and every
pipeline pass over 15 ms with the time of each step in it. Meanwhile this side samples the CPU
of the broker, the processor and itself (the load generator and observer) every 100 ms. Each of
the slowest 1% of alerts (send -> arrival) is then put down to what overlapped it: a GC pause,
a slow pass (named by its biggest step), or neither (the broker or the clients' transport), and
the mean CPU of each process shows whether the 2 cores were saturated. Uses the broker at
$TELEMETRY_BENCH_BOOTSTRAP, or starts the local one. Monotonic clocks are
system-wide on Linux, so the processor's pass times and the harness's send times compare.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import latency
from bench._proc import PYTHON
from bench.harness import DEFAULT_LATENCY_RATE
from tools.localkafka import LocalKafka

GC_MIN_S = 0.003
PASS_MIN_S = 0.015
SAMPLE_S = 0.1
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


# -- the instrumented processor (a child process) --------------------------------------------


def _child(out: Path, argv: list[str]) -> int:
    from telemetry.aggregate import _checkpoint  # noqa: PLC0415 - only the child patches them
    from telemetry.cli import main  # noqa: PLC0415
    from telemetry.kafka import _changelog  # noqa: PLC0415
    from telemetry.stages import _pipeline  # noqa: PLC0415

    clock = time.monotonic
    pauses: list[tuple[float, float, int]] = []
    passes: list[tuple[float, float, dict[str, float]]] = []
    steps: dict[str, float] = {}
    gc_start = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[0] = clock()
        elif clock() - gc_start[0] > GC_MIN_S:
            pauses.append((gc_start[0], clock() - gc_start[0], info["generation"]))

    def timed(owner: type, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def wrapper(self: object, *args: object, **kwargs: object) -> Any:
            started = clock()
            try:
                return original(self, *args, **kwargs)
            finally:
                steps[label] = steps.get(label, 0.0) + clock() - started

        setattr(owner, name, wrapper)

    pipeline = _pipeline.Pipeline
    timed(pipeline, "_step_source", "source")
    timed(pipeline, "_step_processor", "processors")
    timed(pipeline, "_step_sink", "sink")
    timed(pipeline, "_tick", "tick")
    timed(pipeline, "_service_io", "io")
    timed(_checkpoint.Checkpointer, "poll", "checkpoint poll")
    timed(_checkpoint._Chain, "save", "checkpoint saves (in processors)")
    timed(_changelog.ChangelogWriter, "_pump", "changelog pump")
    run_once: Callable[..., Any] = pipeline.run_once

    def timed_pass(self: object, *args: object, **kwargs: object) -> Any:
        steps.clear()
        started = clock()
        try:
            return run_once(self, *args, **kwargs)
        finally:
            took = clock() - started
            if took > PASS_MIN_S:
                passes.append((started, took, {k: v for k, v in steps.items() if v > 0.001}))

    pipeline.run_once = timed_pass  # type: ignore[method-assign]
    gc.callbacks.append(on_gc)
    atexit.register(lambda: out.write_text(json.dumps({"gc": pauses, "passes": passes})))
    return main(argv)


# -- the harness side ------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _pids(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


class CpuSampler(threading.Thread):
    """CPU share (of one core) of the broker, the processor and this process, every 100 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        last: dict[int, tuple[float, int]] = {}
        while not self.halt.wait(SAMPLE_S):
            now = time.monotonic()
            row: dict[str, float] = {}
            groups = {
                "broker": _pids("kafka.Kafka"),
                "processor": _pids("bench.tail --child"),
                "harness": [os.getpid()],
            }
            for name, pids in groups.items():
                for pid in pids:
                    ticks = _cpu_ticks(pid)
                    if pid in last:
                        then, before = last[pid]
                        share = (ticks - before) / TICKS_PER_S / max(now - then, 1e-3)
                        row[name] = row.get(name, 0.0) + share
                    last[pid] = (now, ticks)
            self.rows.append((now, row))


def _report(result: dict[str, Any], recorded: dict[str, Any], cpu: CpuSampler) -> None:
    samples = result["samples"]
    pauses, passes = recorded["gc"], recorded["passes"]
    print(f"GC pauses over {GC_MIN_S * 1000:.0f} ms: {len(pauses)}", end="")
    print(f", longest {max(p[1] for p in pauses) * 1000:.1f} ms" if pauses else "")
    print(f"passes over {PASS_MIN_S * 1000:.0f} ms: {len(passes)}; the 5 longest:")
    for started, took, steps in sorted(passes, key=lambda p: -p[1])[:5]:
        parts = ", ".join(f"{k} {v * 1000:.0f}" for k, v in sorted(steps.items()))
        print(f"  {took * 1000:6.1f} ms at {started - samples[0]['sent_s']:6.2f} s: {parts}")
    for name in ("broker", "processor", "harness"):
        shares = [row.get(name, 0.0) for _, row in cpu.rows]
        print(f"CPU {name}: mean {100 * sum(shares) / max(1, len(shares)):.0f}% of a core")
    worst = sorted(samples, key=lambda s: -s["latency_ms"])[: max(1, len(samples) // 100)]
    causes: Counter[str] = Counter()
    for sample in worst:
        sent, arrived = sample["sent_s"], sample["sent_s"] + sample["latency_ms"] / 1000
        if any(start < arrived and start + took > sent for start, took, _ in pauses):
            causes["GC pause"] += 1
            continue
        over = [p for p in passes if p[0] < arrived and p[0] + p[1] > sent]
        if not over:
            causes["no slow pass, no GC (broker / transport)"] += 1
            continue
        spent_in: Counter[str] = Counter()
        for _, _, spent in over:
            spent_in.update(spent)
        causes[f"slow passes, mostly {spent_in.most_common(1)[0][0]}"] += 1
    print(f"the slowest 1% of alerts ({len(worst)}, {worst[-1]['latency_ms']:.0f} ms and over):")
    for cause, count in causes.most_common():
        print(f"  {count:4d}  {cause}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        return _child(Path(args[1]), args[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=DEFAULT_LATENCY_RATE)
    parser.add_argument("--processing", type=json.loads, default=None, help="JSON object")
    options = parser.parse_args(args)
    bootstrap = os.environ.get("TELEMETRY_BENCH_BOOTSTRAP")
    if not bootstrap:
        kafka = LocalKafka()
        kafka.start()  # left running, like the harness's when it was running already
        bootstrap = kafka.settings.bootstrap
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "passes.json"
        cpu = CpuSampler()
        cpu.start()
        result = latency.run(
            bootstrap,
            options.rate,
            options.seconds,
            processing=options.processing,
            launcher=(PYTHON, "-m", "bench.tail", "--child", str(out)),
        )
        cpu.halt.set()
        if not result["samples"]:
            print("no alert arrived: nothing to attribute")
            return 1
        _report(result, json.loads(out.read_text()), cpu)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
