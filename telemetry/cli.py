"""The ``telemetry`` command line: ``run``, ``simulate``, ``topics``, ``demo``.

Exit codes: 0 success; 1 a runtime failure (broker unreachable, topics differ under
``--check``, ...), always as one line ``telemetry: error: ...``; 2 a usage or configuration
error, as one line ``telemetry: config error: ...`` (no traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from telemetry import __version__, pod
from telemetry.config import Config, MetricsConfig, load_config
from telemetry.demo import DEMO_BOOTSTRAP, demo_config, run_demo
from telemetry.errors import ConfigError, KafkaClientError, TelemetryError, WorkerError
from telemetry.http import MetricsServer
from telemetry.kafka import (
    CLEANUP_POLICY,
    CONNECT_TIMEOUT_S,
    client_config,
    ensure_topics,
    probe_kafka,
    require_topics,
)
from telemetry.logs import configure_logging
from telemetry.simulate import Fleet, FleetSpec, Progress, simulate, wall_clock_ms
from telemetry.stages import StopBudget

logger = logging.getLogger("telemetry.cli")

BOOTSTRAP_ENV = "TELEMETRY_KAFKA__BOOTSTRAP_SERVERS"


# -- signals ---------------------------------------------------------------------------------


@contextmanager
def _on_signals(first: Callable[[], None], again: Callable[[], None]) -> Iterator[None]:
    """SIGTERM/SIGINT call ``first`` once, then ``again`` (e.g. drain, then stop now)."""
    calls = 0

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal calls
        calls += 1
        logger.info("received %s", signal.Signals(signum).name)
        (first if calls == 1 else again)()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _metrics_server(app: Any, metrics: MetricsConfig) -> MetricsServer:
    try:
        return MetricsServer(app, metrics).start()
    except OSError as exc:
        raise KafkaClientError(
            f"cannot listen on {metrics.host}:{metrics.port} for metrics: {exc.strerror or exc}"
        ) from None


# -- commands --------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    worker: int | None = args.worker
    if worker is not None:  # started by a pod's supervisor (telemetry run --workers N)
        config = pod.as_worker(config, worker)
    workers = 1 if worker is not None else _workers(args.workers, config)
    configure_logging(config.log, worker=worker)
    if worker is None:
        for warning in config.kafka.insecure():
            logger.warning(warning)
    admin = probe_kafka(config.kafka, args.connect_timeout)
    require_topics(admin, config, args.connect_timeout)
    if workers > 1:
        return _run_pod(args, config, workers)
    from telemetry.member import Member  # noqa: PLC0415  # the processor is only needed here

    member = Member(config)
    server = _metrics_server(member, config.metrics)
    logger.info(
        "processor starting",
        extra={"metrics_url": server.url, "group_id": config.processing.group_id},
    )
    try:
        with _on_signals(member.request_drain, member.request_stop):
            if worker is not None:
                pod.report_port(args.report_fd, server.port)
                pod.watch_parent(member.request_drain)
            member.run()
    finally:
        server.stop()
    logger.info("processor exited cleanly")
    return 0


def _workers(flag: str | None, config: Config) -> int:
    """``--workers`` (which wins) or ``processing.workers``."""
    if flag is None:
        return config.processing.workers
    try:
        workers = int(flag)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(
            f"--workers: must be an integer >= 1 (one group member per worker process), "
            f"got {flag!r}"
        )
    return workers


def _run_pod(args: argparse.Namespace, config: Config, workers: int) -> int:
    """N workers, each a single-process ``telemetry run`` (see :mod:`telemetry.pod`), behind
    the one metrics port; exit 0 when every worker drained and exited 0."""
    registry = CollectorRegistry()
    supervisor = pod.Supervisor(
        workers,
        pod.worker_command(args.config, connect_timeout=args.connect_timeout),
        metrics=pod.PodMetrics(registry, workers),
        # What a single process may take after SIGTERM: the drain, the stop budget, 5 s to exit.
        stop_after_s=config.processing.drain_timeout_s + StopBudget().seconds + 5.0,
    )
    view = pod.PodView(supervisor.endpoints, registry=registry, beat=supervisor.beat)
    server = _metrics_server(view, config.metrics)
    logger.info(
        "pod starting %d workers",
        workers,
        extra={
            "metrics_url": server.url,
            "group_id": config.processing.group_id,
            "workers": workers,
        },
    )
    try:
        with _on_signals(supervisor.request_drain, supervisor.request_stop):
            codes = supervisor.run()
    finally:
        server.stop()
        view.close()
    failed = [
        f"worker {index} ({'never started' if code is None else pod.describe_exit(code)})"
        for index, code in codes.items()
        if not pod.clean_exit(code)
    ]
    if failed:
        raise WorkerError(f"not every worker drained and exited cleanly: {', '.join(failed)}")
    logger.info("pod exited cleanly")
    return 0


def _fleet_spec(args: argparse.Namespace) -> FleetSpec:
    return FleetSpec(
        devices=args.devices,
        sensors=tuple(s.strip() for s in args.sensors.split(",") if s.strip()),
        seed=args.seed,
        anomaly_rate=args.anomaly_rate,
        silent_fraction=args.silent_fraction,
        silent_after_ms=int(args.silent_after * 1000),
        out_of_order_fraction=args.out_of_order_fraction,
        late_fraction=args.late_fraction,
        broken_fraction=args.broken_fraction,
        v1_fraction=args.v1_fraction,
    )


def _simulate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    spec = _fleet_spec(args)
    if args.rate < 0:
        raise ConfigError("--rate: must be >= 0 (0: as fast as possible)")
    configure_logging(replace(config.log, level="WARNING"))
    topic = args.topic or config.topics.readings
    probe_kafka(config.kafka, args.connect_timeout)
    producer = Producer(client_config(config.kafka, **{"linger.ms": 20}))
    stop = threading.Event()
    with _on_signals(stop.set, stop.set):
        stats = simulate(
            Fleet(spec, start_ms=wall_clock_ms()),
            producer,
            topic,
            rate=args.rate,
            count=args.count,
            duration=args.duration,
            stop=stop,
            progress=Progress(sys.stderr, topic),
        )
    if stats.failed:
        raise KafkaClientError(f"{stats.failed} of {stats.sent} records were not delivered")
    return 0


def _topics(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    admin = probe_kafka(config.kafka, args.connect_timeout)
    ok = ensure_topics(admin, config, create=not args.check, timeout=args.connect_timeout)
    if not ok and args.check:
        raise KafkaClientError("topics are missing or differ from the configuration (see above)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.config:
        config = load_config(args.config)
        if args.bootstrap:
            config = replace(config, kafka=replace(config.kafka, bootstrap_servers=args.bootstrap))
    else:
        bootstrap = args.bootstrap or os.environ.get(BOOTSTRAP_ENV) or DEMO_BOOTSTRAP
        config = demo_config(bootstrap, args.port)
    return run_demo(
        config,
        devices=args.devices,
        seed=args.seed,
        rate=args.rate,
        duration=args.duration,
        connect_timeout=args.connect_timeout,
        on_signals=_on_signals,
    )


# -- parser ----------------------------------------------------------------------------------


def _add_config(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        required=required,
        help="YAML configuration (see config.example.yaml); TELEMETRY_<SECTION>__<KEY> "
        "environment variables override it",
    )


def _add_connect_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT_S,
        metavar="S",
        help=f"give up when no broker answers within S seconds (default {CONNECT_TIMEOUT_S:g})",
    )


def _add_fleet(parser: argparse.ArgumentParser, *, devices: int, rate: float) -> None:
    parser.add_argument("--devices", type=int, default=devices, help=f"fleet size ({devices})")
    parser.add_argument(
        "--rate",
        type=float,
        default=rate,
        help=f"records per second over the whole fleet; 0 = as fast as possible ({rate:g})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telemetry",
        description="Demand-driven Kafka stream processor for IoT sensor telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"telemetry {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the processor",
        description="Run the processor: readings in; rollups, alerts, dead letters out. "
        "Serves /metrics, /healthz and /readyz on the metrics port. SIGTERM or SIGINT drains "
        "in-flight work, commits and exits 0 (a second signal stops at once). With --workers "
        "N > 1 it runs N members of the group, one process each, restarts one that dies, and "
        "serves one metrics port for them all (series labelled worker=0..N-1).",
    )
    _add_config(run, required=True)
    _add_connect_timeout(run)
    run.add_argument(
        "--workers",
        metavar="N",
        help="group members to run in this pod, one process (and core) each "
        "(default: processing.workers, 1)",
    )
    # How a pod's supervisor starts its workers; not for people.
    run.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    run.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)
    run.set_defaults(handler=_run)

    sim = sub.add_parser(
        "simulate",
        help="produce readings from a simulated device fleet",
        description="Produce Confluent-framed Avro SensorReadings (schema ids 1 and 2), keyed "
        "by device id, to the readings topic: drift, noise and a daily cycle per device, with "
        "spikes, silent devices, out-of-order and late readings and broken records on demand.",
    )
    _add_config(sim, required=False)
    _add_connect_timeout(sim)
    sim.add_argument("--topic", help="topic to produce to (default: topics.readings)")
    _add_fleet(sim, devices=10, rate=100.0)
    sim.add_argument(
        "--sensors",
        default="temperature,humidity",
        help="comma-separated sensor names; known: temperature, humidity, pressure, co2 "
        "(default temperature,humidity)",
    )
    sim.add_argument("--count", type=int, help="stop after this many records")
    sim.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    sim.add_argument("--anomaly-rate", type=float, default=0.001, help="spikes (0.001)")
    sim.add_argument(
        "--silent-fraction", type=float, default=0.0, help="devices that go silent (0)"
    )
    sim.add_argument(
        "--silent-after",
        type=float,
        default=20.0,
        metavar="S",
        help="silent devices stop between S/2 and S seconds after the start (20)",
    )
    sim.add_argument(
        "--out-of-order-fraction",
        type=float,
        default=0.0,
        help="readings up to 3 s older than the previous ones (0)",
    )
    sim.add_argument("--late-fraction", type=float, default=0.0, help="readings 2 min late (0)")
    sim.add_argument(
        "--broken-fraction",
        type=float,
        default=0.0,
        help="broken records: bad magic, too short, no value, unknown schema, truncated, "
        "trailing bytes, NaN value, timestamp far in the future (0)",
    )
    sim.add_argument("--v1-fraction", type=float, default=0.2, help="schema v1 share (0.2)")
    sim.set_defaults(handler=_simulate)

    topics = sub.add_parser(
        "topics",
        help="create or check the configured topics",
        description="Create the topics the configuration names (readings, rollups, alerts, "
        "dead letters, late) with topics.partitions, topics.replication_factor, "
        f"retention.ms = topics.retention_ms and cleanup.policy={CLEANUP_POLICY} (rollups "
        "are keyed by device id, so compaction would drop all but a device's newest rollup). "
        "Existing topics are checked, never altered.",
    )
    _add_config(topics, required=False)
    _add_connect_timeout(topics)
    topics.add_argument(
        "--check",
        action="store_true",
        help="only check: exit 1 if a topic is missing or differs",
    )
    topics.set_defaults(handler=_topics)

    demo = sub.add_parser(
        "demo",
        help="the live demo: simulator and processor together on a running broker",
        description="On the broker at --bootstrap (default: TELEMETRY_KAFKA__BOOTSTRAP_SERVERS, "
        f"else {DEMO_BOOTSTRAP}, where `scripts/kafka-local start` runs the local one; "
        "`make demo` starts it and runs this): create the demo topics, run the simulator and "
        "the processor, and print a summary once a second until Ctrl-C or --duration.",
    )
    demo.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help=f"the broker to run on (default {DEMO_BOOTSTRAP}; with --config: its kafka section)",
    )
    _add_connect_timeout(demo)
    demo.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    _add_fleet(demo, devices=20, rate=200.0)
    demo.add_argument(
        "--port",
        type=int,
        default=9100,
        help="metrics port (9100; a free one if taken)",
    )
    _add_config(demo, required=False)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"telemetry: config error: {exc}", file=sys.stderr)
        return 2
    except TelemetryError as exc:
        print(f"telemetry: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
