"""``telemetry demo``: the simulator and the processor together on one broker, with a live
summary line once a second.

The demo needs a running broker (default ``127.0.0.1:9092``); it never starts one itself, since
the product does not depend on the development tooling: ``make demo`` starts the local broker
with ``scripts/kafka-local`` first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from confluent_kafka import Producer

from telemetry.config import (
    Config,
    KafkaConfig,
    LogConfig,
    MetricsConfig,
    ProcessingConfig,
    TopicsConfig,
)
from telemetry.errors import KafkaClientError, TelemetryError
from telemetry.http import MetricsServer
from telemetry.kafka import client_config, ensure_topics, probe_kafka
from telemetry.logs import configure_logging
from telemetry.rules import RateOfChangeRule, SilentRule, ThresholdRule
from telemetry.simulate import Fleet, FleetSpec, SimStats, simulate, wall_clock_ms
from telemetry.windows import Tumbling

if TYPE_CHECKING:
    from telemetry.member import Member

DEMO_BOOTSTRAP = "127.0.0.1:9092"
"""Where ``scripts/kafka-local`` (and so ``make demo``) runs the local broker."""
NO_BROKER_HINT = (
    "the demo needs a running broker: `make demo` starts the local one, or start it with "
    "`scripts/kafka-local start`, or name another with --bootstrap"
)

SignalScope = Callable[[Callable[[], None], Callable[[], None]], AbstractContextManager[None]]
"""The command line's signal handling: the first SIGTERM/SIGINT calls the first function, a
second one the other."""


def demo_config(bootstrap: str, metrics_port: int) -> Config:
    """Short windows and a few rules, so rollups and alerts appear within seconds."""
    return Config(
        kafka=KafkaConfig(bootstrap_servers=bootstrap),
        topics=TopicsConfig(
            readings="demo.readings",
            rollups="demo.rollups",
            alerts="demo.alerts",
            deadletter="demo.deadletter",
            partitions=4,
            retention_ms=3600 * 1000,
        ),
        processing=ProcessingConfig(
            group_id="telemetry-demo",
            windows=(Tumbling(size_ms=5_000, percentiles=True), Tumbling(size_ms=30_000)),
            rules=(
                ThresholdRule(
                    name="overheating",
                    sensor="temperature",
                    raise_at=40.0,
                    clear_at=35.0,
                    severity="CRITICAL",
                ),
                RateOfChangeRule(
                    name="humidity-jump", sensor="humidity", limit_per_s=20.0, span_ms=5_000
                ),
                SilentRule(name="device-silent", sensor="temperature", after_ms=10_000),
            ),
            allowed_lateness_ms=2_000,
            idle_timeout_ms=3_000,
            commit_interval_s=2.0,
        ),
        metrics=MetricsConfig(port=metrics_port),
        log=LogConfig(level="WARNING"),
    )


def run_demo(
    config: Config,
    *,
    devices: int,
    seed: int,
    rate: float,
    duration: float | None,
    connect_timeout: float,
    on_signals: SignalScope,
) -> int:
    """Create the topics, run the simulator and the processor until a signal or ``duration``,
    print a summary once a second and a final one; a broker that does not answer is one
    :class:`KafkaClientError` saying how to start one."""
    configure_logging(config.log)
    try:
        admin = probe_kafka(config.kafka, connect_timeout)
    except KafkaClientError as exc:
        raise KafkaClientError(f"{exc}; {NO_BROKER_HINT}") from None
    ensure_topics(admin, config, create=True, out=lambda line: print(f"topics: {line}"))
    from telemetry.member import Member  # noqa: PLC0415  # the processor is only needed here

    app = Member(config)
    server = _metrics_server(app, config.metrics)
    print(f"demo: metrics at {server.url} (also /healthz, /readyz)", flush=True)
    stop = threading.Event()
    sim_stats = SimStats()
    producer = Producer(client_config(config.kafka, **{"linger.ms": 20}))
    spec = FleetSpec(
        devices=devices,
        seed=seed,
        anomaly_rate=0.005,
        silent_fraction=0.1,
        silent_after_ms=15_000,
        out_of_order_fraction=0.02,
        late_fraction=0.002,
        broken_fraction=0.002,
    )
    fleet = Fleet(spec, start_ms=wall_clock_ms())
    simulator = threading.Thread(
        target=simulate,
        args=(fleet, producer, config.topics.readings),
        kwargs={"rate": rate, "stop": stop, "stats": sim_stats},
        name="simulator",
        daemon=True,
    )
    processor = threading.Thread(target=app.run, name="processor", daemon=True)
    processor.start()
    simulator.start()
    try:
        with on_signals(stop.set, stop.set):
            _live_summary(
                app, sim_stats, server.url, duration=duration, stop=stop, processor=processor
            )
    finally:
        stop.set()
        simulator.join(30)
        app.request_drain()
        processor.join(config.processing.drain_timeout_s + 10)
        server.stop()
    final = app.snapshot()
    print(
        f"demo: done: sent {sim_stats.sent:,}, consumed {final['consumed']:,.0f}, "
        f"produced {final['produced']:,.0f}, rollups {final['rollups']:,.0f}, "
        f"alerts {final['alerts']:,.0f}, dead letters {final['deadletters']:,.0f}",
        flush=True,
    )
    return 0


def _metrics_server(app: Any, metrics: MetricsConfig) -> MetricsServer:
    # The demo takes a free port when the configured one is taken (unlike `telemetry run`).
    try:
        return MetricsServer(app, metrics).start()
    except OSError:
        return MetricsServer(app, replace(metrics, port=0)).start()


def _live_summary(
    app: Member,
    sim: SimStats,
    url: str,
    *,
    duration: float | None,
    stop: threading.Event,
    processor: threading.Thread,
) -> None:
    began = time.monotonic()
    last, last_time = app.snapshot(), began
    while not stop.wait(1.0):
        now = time.monotonic()
        snap = app.snapshot()
        span = max(now - last_time, 1e-9)
        rate_in = (snap["consumed"] - last["consumed"]) / span
        rate_out = (snap["produced"] - last["produced"]) / span
        last, last_time = snap, now
        print(
            f"demo {now - began:5.0f}s | in {rate_in:7,.0f}/s  out {rate_out:6,.0f}/s"
            f" | sent {sim.sent:,} consumed {snap['consumed']:,.0f}"
            f" | rollups {snap['rollups']:,.0f}  alerts {snap['alerts']:,.0f}"
            f"  dead letters {snap['deadletters']:,.0f}"
            f" | paused {snap.get('paused_partitions', 0):.0f}"
            f"/{snap.get('assigned_partitions', 0):.0f} partitions | {url}",
            flush=True,
        )
        if duration is not None and now - began >= duration:
            return
        if not processor.is_alive():
            raise TelemetryError("the processor stopped unexpectedly (see the log above)")
