"""Memory under backlog: millions of readings waiting, the sink throttled; RSS every second.

The processor is ``App`` in its own process (``python -m bench.processor --sink-rate``): the
product has no sink throttle, so the bench swaps in a sink subclass granting demand at a fixed
rate of outputs per second.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from bench._common import RESULTS, create_topics, metric, proc_stat, scrape
from bench._proc import PYTHON, Outputs, delete_outputs, start, stop, write_config
from bench.w1 import ensure_topic

FALLBACK_SINK_RATE = 100.0


def topic_name(count: int) -> str:
    return f"bench.backlog.{count}"


def default_sink_rate() -> float:
    """1% of telemetry's W1 output rate (outputs/s) from bench/results/w1.json, if there."""
    try:
        w1 = json.loads((RESULTS / "w1.json").read_text())
        work = w1["workload"]
        per_event = (work["expected_rollups"] + work["expected_alerts"]) / work["readings"]
        rate: float = 0.01 * w1["telemetry"]["events_per_s"]["median"] * per_event
        return max(1.0, rate)
    except (OSError, KeyError, ValueError):
        return FALLBACK_SINK_RATE


def run(
    bootstrap: str, count: int, sink_rate: float, seconds: int, *, changelog: bool = True
) -> dict[str, Any]:
    topic = topic_name(count)
    ensure_topic(bootstrap, topic, count)
    out = Outputs("memory")
    create_topics(bootstrap, *out.topics)
    config, port = write_config(bootstrap, topic, out, changelog=changelog)
    argv = [PYTHON, "-m", "bench.processor", "--config", str(config)]
    process = start([*argv, "--sink-rate", str(sink_rate)], "memory-processor.log")
    samples: list[dict[str, float]] = []
    try:
        started = time.monotonic()
        for second in range(1, seconds + 1):
            time.sleep(max(0.0, started + second - time.monotonic()))
            if process.poll() is not None:
                raise RuntimeError(f"processor exited with {process.returncode}")
            stat = proc_stat(process.pid)
            m = scrape(port)
            samples.append(
                {
                    "t": second,
                    "rss_mb": stat.rss_mb,
                    "paused_partitions": metric(m, "telemetry_kafka_paused_partitions"),
                    "consumed": metric(m, "telemetry_kafka_consumed_messages_total"),
                    "produced": metric(m, "telemetry_kafka_produced_messages_total", "sink"),
                    "cpu_s": stat.cpu_s,
                }
            )
    finally:
        stop(process, timeout=30)
        config.unlink()
        delete_outputs(bootstrap, out)
    rss = [s["rss_mb"] for s in samples]
    last_minute = rss[-61:] if len(rss) > 60 else rss
    result = {
        "backlog": count,
        "sink_rate": sink_rate,
        "seconds": seconds,
        "max_rss_mb": max(rss),
        "growth_last_minute_mb": last_minute[-1] - last_minute[0],
        "range_last_minute_mb": max(last_minute) - min(last_minute),
        "paused_partitions_median": statistics.median(s["paused_partitions"] for s in samples),
        "consumed": samples[-1]["consumed"],
        "produced": samples[-1]["produced"],
        "samples": samples,
    }
    print(
        f"  max RSS {result['max_rss_mb']:.0f} MB, growth over the last minute "
        f"{result['growth_last_minute_mb']:+.1f} MB, paused partitions (median) "
        f"{result['paused_partitions_median']:.0f}, consumed {result['consumed']:,.0f}",
        flush=True,
    )
    return result
