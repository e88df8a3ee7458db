"""Where telemetry's time goes on W1: cProfile of an in-process ``App`` run."""

from __future__ import annotations

import io
import pstats
from typing import Any

from bench._common import RESULTS, create_topics
from bench._proc import PYTHON, Outputs, delete_outputs, start, write_config
from bench.throughput import W1_TOPIC
from bench.w1 import Expected

TOP = 25


def profile_w1(bootstrap: str, expected: Expected) -> dict[str, Any]:
    out = Outputs("profile")
    create_topics(bootstrap, *out.topics)
    config, _ = write_config(bootstrap, W1_TOPIC, out)
    stats_file = RESULTS / "w1.prof"
    outputs = len(expected.rollups) + len(expected.alerts)
    argv = [PYTHON, "-m", "bench.processor", "--config", str(config)]
    process = start([*argv, "--profile", str(stats_file), "--outputs", str(outputs)], "profile.log")
    try:
        process.wait(900)
    finally:
        config.unlink()
        delete_outputs(bootstrap, out)
    text = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=text)
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(TOP)
    (RESULTS / "profile.txt").write_text(text.getvalue())
    total = stats.total_tt  # type: ignore[attr-defined]
    top = []
    for (file, line, name), row in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: -item[1][2],
    )[:TOP]:
        _, calls, tottime, cumtime, _ = row
        where = f"{file.split('site-packages/')[-1].split('/main/')[-1]}:{line}({name})"
        top.append({"function": where, "calls": calls, "tottime_s": tottime, "cumtime_s": cumtime})
    print(f"  profile: {total:.1f} s total; top by own time:")
    for row in top[:12]:
        share = 100 * row["tottime_s"] / total
        print(f"    {share:5.1f}%  {row['tottime_s']:6.2f} s  {row['function']}")
    return {"total_s": total, "top": top, "stats": "bench/results/profile.txt"}
