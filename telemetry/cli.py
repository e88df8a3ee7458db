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
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import FrameType
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)
from prometheus_client import CollectorRegistry

from telemetry import __version__, pod
from telemetry.config import (
    Config,
    KafkaConfig,
    LogConfig,
    MetricsConfig,
    ProcessingConfig,
    TopicsConfig,
    load_config,
)
from telemetry.errors import ConfigError, KafkaClientError, TelemetryError, WorkerError
from telemetry.http import MetricsServer
from telemetry.kafka._changelog import CHANGELOG_CONFIG
from telemetry.localkafka import LocalKafka
from telemetry.logs import configure_logging
from telemetry.rules import RateOfChangeRule, SilentRule, ThresholdRule
from telemetry.simulate import Fleet, FleetSpec, Progress, SimStats, simulate, wall_clock_ms
from telemetry.stages import StopBudget
from telemetry.windows import Tumbling

if TYPE_CHECKING:
    from telemetry.member import Member

logger = logging.getLogger("telemetry.cli")

CONNECT_TIMEOUT_S = 10.0
CLEANUP_POLICY = "delete"
"""Every topic is ``cleanup.policy=delete`` with ``retention.ms``: rollups are keyed by device
id with one record per window, so compaction would keep only a device's newest rollup."""
BOOTSTRAP_ENV = "TELEMETRY_KAFKA__BOOTSTRAP_SERVERS"


# -- Kafka helpers ---------------------------------------------------------------------------


def _quiet_logger() -> logging.Logger:
    # librdkafka logs every failed connection attempt; the CLI reports one line instead.
    quiet = logging.getLogger("telemetry.librdkafka")
    quiet.propagate = False
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    return quiet


def _client_config(kafka: KafkaConfig, **extra: Any) -> dict[str, Any]:
    return {**kafka.client_config(), "logger": _quiet_logger(), **extra}


def admin_client(kafka: KafkaConfig) -> AdminClient:
    return AdminClient(_client_config(kafka))


def probe_kafka(kafka: KafkaConfig, timeout: float = CONNECT_TIMEOUT_S) -> AdminClient:
    """An admin client whose broker answered within ``timeout``; else :class:`KafkaClientError`."""
    admin = admin_client(kafka)
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot reach Kafka at {kafka.bootstrap_servers} within {timeout:g} s "
            f"({_kafka_reason(exc)})"
        ) from None
    return admin


def require_topics(admin: AdminClient, config: Config, timeout: float) -> None:
    """ConfigError (exit 2) naming every configured input and output topic that does not
    exist: a processor that started anyway would stall on its first output, or let the
    broker auto-create a topic with the wrong partitions and retention. (The changelog is
    created by the processor itself when missing.)"""
    try:
        present = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot list the topics of {config.kafka.bootstrap_servers} ({_kafka_reason(exc)})"
        ) from None
    topics = config.topics
    wanted = {
        "topics.readings": topics.readings,
        "topics.rollups": topics.rollups,
        "topics.alerts": topics.alerts,
        "topics.deadletter": topics.deadletter,
    }
    if topics.late:
        wanted["topics.late"] = topics.late
    missing = [f"{key} ({name})" for key, name in wanted.items() if name not in present]
    if missing:
        raise ConfigError(
            f"missing topic(s): {', '.join(missing)}; create them with "
            "`telemetry topics --config <file>`, or point the keys at existing topics"
        )


def _kafka_reason(exc: KafkaException) -> str:
    error: Any = exc.args[0] if exc.args else None
    return str(error.str()) if hasattr(error, "str") else str(error or exc)


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


def topic_plans(config: Config, readings_partitions: int | None = None) -> list[TopicPlan]:
    """The topics ``config`` names, with the settings ``telemetry topics`` gives them.

    The changelog gets the readings topic's partition count (``readings_partitions`` when that
    topic exists already), so partition p's state lives in changelog partition p.
    """
    topics = config.topics
    names = [topics.readings, topics.rollups, topics.alerts, topics.deadletter]
    if topics.late:
        names.append(topics.late)
    settings = {"cleanup.policy": CLEANUP_POLICY, "retention.ms": str(topics.retention_ms)}
    plans = [
        TopicPlan(name, topics.partitions, topics.replication_factor, settings)
        for name in dict.fromkeys(names)
    ]
    if config.processing.changelog:
        plans.append(changelog_plan(config, readings_partitions or topics.partitions))
    return plans


def changelog_plan(config: Config, partitions: int) -> TopicPlan:
    return TopicPlan(
        config.changelog_topic, partitions, config.topics.replication_factor, CHANGELOG_CONFIG
    )


def ensure_topics(
    admin: AdminClient,
    config: Config,
    *,
    create: bool,
    timeout: float = CONNECT_TIMEOUT_S,
    out: Callable[[str], None] = print,
) -> bool:
    """Create (if ``create``) or check the configured topics; True if all exist as planned."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot reach Kafka at {config.kafka.bootstrap_servers} within {timeout:g} s "
            f"({_kafka_reason(exc)})"
        ) from None
    readings = metadata.topics.get(config.topics.readings)
    plans = topic_plans(config, len(readings.partitions) if readings is not None else None)
    missing = [plan for plan in plans if plan.name not in metadata.topics]
    ok = True
    if missing and create:
        _create_topics(admin, missing, timeout, out)
    elif missing:
        for plan in missing:
            out(f"MISSING  {plan.name} (want {_describe(plan)})")
        ok = False
    present = [plan for plan in plans if plan.name in metadata.topics]
    configs = _topic_configs(admin, [p.name for p in present], timeout)
    for plan in present:
        differences = _differences(plan, metadata.topics[plan.name], configs.get(plan.name, {}))
        if differences:
            ok = False
            out(f"DIFFERS  {plan.name}: {'; '.join(differences)}")
        else:
            out(f"ok       {_describe(plan)}")
    return ok


def _create_topics(
    admin: AdminClient, plans: list[TopicPlan], timeout: float, out: Callable[[str], None]
) -> None:
    futures = admin.create_topics(
        [
            NewTopic(
                plan.name,
                num_partitions=plan.partitions,
                replication_factor=plan.replication_factor,
                config=dict(plan.configs),
            )
            for plan in plans
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for plan in plans:
        try:
            futures[plan.name].result(timeout=timeout + 5)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise KafkaClientError(
                    f"cannot create topic {plan.name}: {_kafka_reason(exc)}", topic=plan.name
                ) from None
        out(f"created  {_describe(plan)}")


def _differences(plan: TopicPlan, meta: Any, configs: Mapping[str, str]) -> list[str]:
    partitions = len(meta.partitions)
    replicas = min((len(p.replicas) for p in meta.partitions.values()), default=0)
    differences = []
    if partitions != plan.partitions:
        differences.append(f"partitions {partitions} (want {plan.partitions})")
    if replicas != plan.replication_factor:
        differences.append(f"replication {replicas} (want {plan.replication_factor})")
    for key, want in plan.configs.items():
        have = configs.get(key)
        if have != want:
            differences.append(f"{key}={have} (want {want})")
    return differences


def _describe(plan: TopicPlan) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in plan.configs.items())
    return (
        f"{plan.name}: {plan.partitions} partitions, replication {plan.replication_factor}, "
        f"{settings}"
    )


def _topic_configs(
    admin: AdminClient, names: list[str], timeout: float
) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    result: dict[str, dict[str, str]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entries = future.result(timeout=timeout + 5)
        result[resource.name] = {key: str(entry.value) for key, entry in entries.items()}
    return result


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


def _metrics_server(app: Any, metrics: MetricsConfig, *, fallback: bool = False) -> MetricsServer:
    try:
        return MetricsServer(app, metrics).start()
    except OSError as exc:
        if fallback:
            return MetricsServer(app, replace(metrics, port=0)).start()
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
    producer = Producer(_client_config(config.kafka, **{"linger.ms": 20}))
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


def _demo(args: argparse.Namespace) -> int:
    env = os.environ
    kafka: LocalKafka | None = None
    started = False
    if env.get(BOOTSTRAP_ENV):
        bootstrap = env[BOOTSTRAP_ENV]
    else:
        kafka = LocalKafka()
        started = kafka.start()
        bootstrap = kafka.settings.bootstrap
    try:
        if args.config:
            config = load_config(args.config)
            if kafka is not None:  # the broker this demo runs on
                config = replace(config, kafka=replace(config.kafka, bootstrap_servers=bootstrap))
        else:
            config = demo_config(bootstrap, args.port)
        configure_logging(config.log)
        admin = probe_kafka(config.kafka, CONNECT_TIMEOUT_S)
        ensure_topics(admin, config, create=True, out=lambda line: print(f"topics: {line}"))
        from telemetry.member import Member  # noqa: PLC0415  # the processor is only needed here

        app = Member(config)
        server = _metrics_server(app, config.metrics, fallback=True)
        print(f"demo: metrics at {server.url} (also /healthz, /readyz)", flush=True)
        stop = threading.Event()
        sim_stats = SimStats()
        producer = Producer(_client_config(config.kafka, **{"linger.ms": 20}))
        spec = FleetSpec(
            devices=args.devices,
            seed=args.seed,
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
            kwargs={"rate": args.rate, "stop": stop, "stats": sim_stats},
            name="simulator",
            daemon=True,
        )
        processor = threading.Thread(target=app.run, name="processor", daemon=True)
        processor.start()
        simulator.start()
        try:
            with _on_signals(stop.set, stop.set):
                _live_summary(
                    app,
                    sim_stats,
                    server.url,
                    duration=args.duration,
                    stop=stop,
                    processor=processor,
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
    finally:
        if kafka is not None and started and not args.keep_broker:
            kafka.stop()
    return 0


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
        help="the live demo: local broker, simulator and processor together",
        description="Without TELEMETRY_KAFKA__BOOTSTRAP_SERVERS: start the local broker. "
        "Create the demo topics, run the simulator and the processor, and print a summary "
        "once a second until Ctrl-C or --duration; then stop what was started.",
    )
    demo.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    _add_fleet(demo, devices=20, rate=200.0)
    demo.add_argument(
        "--port",
        type=int,
        default=9100,
        help="metrics port (9100; a free one if taken)",
    )
    _add_config(demo, required=False)
    demo.add_argument(
        "--keep-broker", action="store_true", help="leave the local broker running afterwards"
    )
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
