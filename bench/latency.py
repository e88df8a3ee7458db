"""Reading-to-alert latency: a paced producer at a steady rate with anomalies, ``telemetry run``.

The harness is the device fleet here: ``telemetry simulate`` cannot report when each anomalous
reading was sent. Readings as in W1 (5,000 devices x 2 sensors, N(50, 10), 150.0 with
probability 0.001) but with wall-clock timestamps; each anomaly that must raise an alert has its
send time (at ``produce``) recorded, and its RAISED alert's arrival on the alerts topic is
matched by (device, sensor, ts).
"""

from __future__ import annotations

import random
import statistics
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Producer

from bench._common import create_topics, metric, proc_stat, scrape
from bench._proc import (
    TELEMETRY,
    Outputs,
    delete_outputs,
    first_consumed,
    start,
    stop,
    wait_ready,
    write_config,
)
from bench.observe import Observer
from bench.w1 import ANOMALY, ANOMALY_P, DEVICE_IDS, DEVICES, PARTITION_OF, RAISE_AT, SENSORS
from telemetry.codec import Encoder, LocalSchemaSource

WARMUP_S = 10.0
"""Anomalies sent in the first seconds are also left out of the separate steady figures."""

SETTLE_S = 10.0
"""After the last reading: wait this long for the last alerts."""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    bootstrap: str,
    rate: float,
    seconds: float,
    *,
    changelog: bool = True,
    processing: Mapping[str, object] | None = None,
    launcher: Sequence[str] = (TELEMETRY,),
) -> dict[str, Any]:
    # ``processing``: more processing keys (e.g. exactly-once and its commit interval).
    # ``launcher``: the command that takes ``run --config <file>`` (bench.tail instruments it).
    readings = f"bench.latency.{uuid.uuid4().hex[:8]}"
    out = Outputs("latency")
    create_topics(bootstrap, readings, *out.topics)
    config, port = write_config(
        bootstrap, readings, out, changelog=changelog, processing=processing
    )
    observer = Observer(bootstrap, out.rollups, out.alerts, None)
    observer.start()
    process = start([*launcher, "run", "--config", str(config)], "latency-telemetry.log")
    sent: dict[tuple[str, str, str, int], float] = {}
    progress = [0]
    backlog: list[float] = []
    halt = threading.Event()

    def sample() -> None:  # how far the processor is behind the producer, twice a second
        while not halt.wait(0.5):
            consumed = metric(scrape(port), "telemetry_kafka_consumed_messages_total")
            backlog.append(progress[0] - consumed)

    try:
        wait_ready(process, port)
        cpu_before = proc_stat(process.pid).cpu_s
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        produced, behind = _produce(
            bootstrap,
            readings,
            rate,
            seconds,
            sent,
            progress,
            lambda: first_consumed(process, port),
        )
        cpu = proc_stat(process.pid).cpu_s - cpu_before
        halt.set()
        sampler.join()
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and not all(k in observer.alert_arrivals for k in sent):
            time.sleep(0.1)
        peak_rss = proc_stat(process.pid).hwm_mb
    finally:
        stop(process)
        observer.stop()
        observer.consumer.close()
        config.unlink()
    delete_outputs(bootstrap, out, readings)
    arrivals = observer.alert_arrivals
    latencies = [(arrivals[k] - t) * 1000 for k, t in sent.items() if k in arrivals]
    missing = len(sent) - len(latencies)
    result: dict[str, Any] = {
        "processing": dict(processing or {}),
        "rate": rate,
        "seconds": seconds,
        "readings": produced,
        "achieved_rate": produced / seconds,
        "producer_max_behind_ms": behind * 1000,
        "anomalies": len(sent),
        "alerts_matched": len(latencies),
        "missing": missing,
        "peak_rss_mb": peak_rss,
        "processor_cpu_share": cpu / seconds,
        "max_backlog_readings": max(backlog, default=0.0),
        "correct": missing == 0 and observer.verdict.duplicates == 0,
    }
    result["samples"] = [
        {"ts": k[3], "sent_s": t, "latency_ms": (arrivals[k] - t) * 1000}
        for k, t in sorted(sent.items(), key=lambda item: item[1])
        if k in arrivals
    ]
    if latencies:
        result |= {
            "p50_ms": statistics.median(latencies),
            "p99_ms": _percentile(latencies, 0.99),
            "max_ms": max(latencies),
        }
    # Also past the first WARMUP_S (the processor's first sight of 10,000 series: every reading
    # creates its key state and windows), reported separately, never instead.
    if result["samples"]:
        first = result["samples"][0]["sent_s"]
        steady = [x["latency_ms"] for x in result["samples"] if x["sent_s"] - first >= WARMUP_S]
        if steady:
            result |= {
                "steady_after_s": WARMUP_S,
                "steady_p50_ms": statistics.median(steady),
                "steady_p99_ms": _percentile(steady, 0.99),
                "steady_max_ms": max(steady),
            }
    print(
        f"  {len(latencies)} alerts of {len(sent)} anomalies: p50 {result.get('p50_ms', 0):.1f} ms,"
        f" p99 {result.get('p99_ms', 0):.1f} ms, max {result.get('max_ms', 0):.1f} ms"
        f" ({produced / seconds:,.0f} readings/s sent; processor CPU {100 * cpu / seconds:.0f}%,"
        f" max backlog {result['max_backlog_readings']:,.0f} readings)",
        flush=True,
    )
    if "steady_p50_ms" in result:
        print(
            f"  after the first {WARMUP_S:.0f} s: p50 {result['steady_p50_ms']:.1f} ms,"
            f" p99 {result['steady_p99_ms']:.1f} ms, max {result['steady_max_ms']:.1f} ms",
            flush=True,
        )
    return result


def _zigzag(n: int) -> bytes:
    """Avro's long encoding: zigzag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _produce(  # noqa: PLR0917 - private helper, called once
    bootstrap: str,
    topic: str,
    rate: float,
    seconds: float,
    sent: dict[tuple[str, str, str, int], float],
    progress: list[int],
    warmed_up: Callable[[], object],
) -> tuple[int, float]:
    """Produce at ``rate`` for ``seconds``; record send times of alert-raising anomalies.
    ``warmed_up`` waits until the processor has the warm-up reading. Returns the readings
    sent and how far the pacing ever fell behind (s)."""
    rng = random.Random(8)
    encode = Encoder(LocalSchemaSource().schema_ids).encode
    # The load generator shares 2 cores with the broker and the processor: encode cheaply.
    # A v1 body is device_id, sensor, ts, value, seq; the string prefix of each series is
    # encoded once and ts once per batch (checked against the real encoder below).
    prefixes = [
        [
            encode(1, {"device_id": DEVICE_IDS[d], "sensor": s, "ts": 0, "value": 0.0, "seq": 0})[
                :-10
            ]
            for s in SENSORS
        ]
        for d in range(DEVICES)
    ]
    pack_value = struct.Struct("<d").pack
    probe = {
        "device_id": DEVICE_IDS[1],
        "sensor": SENSORS[1],
        "ts": 1_795_000_000_123,
        "value": 51.25,
        "seq": 300,
    }
    spliced = b"".join(
        (prefixes[1][1], _zigzag(1_795_000_000_123), pack_value(51.25), _zigzag(300))
    )
    if spliced != encode(1, probe):
        raise SystemExit("latency: the spliced payload differs from the encoder's")
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 1, "enable.idempotence": True}
    )
    # Connect (metadata, producer id) before the clock starts: the first anomalies must not
    # wait for the load generator's own connection setup.
    warmup = b"".join(
        (prefixes[1][1], _zigzag(time.time_ns() // 1_000_000), pack_value(50.0), _zigzag(0))
    )
    producer.produce(topic, warmup, DEVICE_IDS[1].encode(), partition=PARTITION_OF[1])
    if producer.flush(30):
        raise SystemExit("latency: the warm-up reading was not delivered within 30 s")
    warmed_up()
    raised: set[tuple[str, str]] = set()
    started = time.monotonic()
    end = started + seconds
    n = 0
    behind = 0.0
    seq = [0] * DEVICES
    seq[1] = 1  # after the warm-up reading
    while (now := time.monotonic()) < end:
        due = int((now - started) * rate)
        if due <= n:
            producer.poll(0)
            time.sleep(0.0005)
            continue
        behind = max(behind, (due - n) / rate)
        ts = time.time_ns() // 1_000_000
        ts_bytes = _zigzag(ts)
        for _ in range(due - n):
            series = rng.randrange(DEVICES * 2)
            d, sensor = series >> 1, SENSORS[series & 1]
            device = DEVICE_IDS[d]
            value = ANOMALY if rng.random() < ANOMALY_P else rng.gauss(50.0, 10.0)
            payload = b"".join(
                (prefixes[d][series & 1], ts_bytes, pack_value(value), _zigzag(seq[d]))
            )
            seq[d] += 1
            producer.produce(topic, payload, device.encode(), partition=PARTITION_OF[d])
            key = (device, sensor)
            if key in raised:
                if value < RAISE_AT:
                    raised.discard(key)
            elif value > RAISE_AT:
                raised.add(key)
                sent[device, sensor, "RAISED", ts] = time.monotonic()
        n = progress[0] = due
        producer.poll(0)
    producer.flush(30)
    return n, behind
