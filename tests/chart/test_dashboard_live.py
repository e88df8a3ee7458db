"""Dashboard proof: a real Prometheus scrapes a real processor run on the real broker, and every
panel's query returns data; the exposition passes ``promtool check metrics`` and holds every
metric the dashboard and the alert rules use.

Prometheus scrapes the processor the way it scrapes a pod of ``telemetry run --workers``: the
member's endpoint is worker 0 behind a :class:`telemetry.pod.PodView`, so every series carries
the ``worker`` label and the pod's own metrics are there too (a single process exports the
same series without the label and without the pod's)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from telemetry.codec import Encoder, LocalSchemaSource
from telemetry.config import Config, KafkaConfig, MetricsConfig, ProcessingConfig, TopicsConfig
from telemetry.http import MetricsServer
from telemetry.member import Member
from telemetry.pod import PodMetrics, PodView, WorkerEndpoint
from telemetry.rules import ThresholdRule
from telemetry.sinks import Webhook
from telemetry.windows import Tumbling
from tests.chart._promql import instantiate, usage
from tests.chart._tools import find_tool
from tests.chart.test_dashboard import queries
from tests.conftest import ProducerFactory, TopicFactory
from tests.support.webhook import WebhookEndpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
RULES = (
    Path(__file__).resolve().parents[2] / "helm" / "telemetry" / "rules" / "telemetry-rules.yaml"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # loopback only
        body: bytes = response.read()
    return body.decode()


@pytest.fixture
def webhook_url() -> Iterator[str]:
    endpoint = WebhookEndpoint(path="/alerts")
    yield endpoint.url
    endpoint.close()


@pytest.fixture
def processor(
    webhook_url: str,
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    group_id: str,
) -> Iterator[tuple[Member, MetricsServer]]:
    """A processor fed with a live trickle of readings: normal, anomalous and broken ones."""
    topics = TopicsConfig(
        readings=topic_factory(4),
        rollups=topic_factory(4),
        alerts=topic_factory(4),
        deadletter=topic_factory(4),
    )
    config = Config(
        kafka=KafkaConfig(bootstrap_servers=kafka_bootstrap),
        topics=topics,
        processing=ProcessingConfig(
            group_id=group_id,
            windows=(Tumbling(size_ms=1_000),),
            rules=(ThresholdRule(name="hot", sensor="temp", raise_at=120, clear_at=100),),
            allowed_lateness_ms=200,
            idle_timeout_ms=1_000,
            commit_interval_s=1.0,
            guarantee="exactly_once",  # its metrics too; at-least-once shares the rest
        ),
        metrics=MetricsConfig(host="127.0.0.1", port=0),
        sinks=(Webhook(url=webhook_url),),  # the webhook panels' series
    )
    # As `telemetry run` does: on a fresh broker the transaction coordinator may still be
    # coming up, and a producer that cannot start yet makes the member rejoin.
    app = Member(config)
    worker = MetricsServer(app, config.metrics).start()
    pod_registry = CollectorRegistry()
    PodMetrics(pod_registry, workers=1)
    view = PodView(lambda: [WorkerEndpoint(0, worker.port)], registry=pod_registry)
    server = MetricsServer(view, config.metrics).start()
    runner = threading.Thread(target=app.run, name="app")
    runner.start()
    stop = threading.Event()
    producer = producer_factory()
    encoder = Encoder(LocalSchemaSource().schema_ids)

    def feed() -> None:
        i = 0
        while not stop.is_set():
            now = int(time.time() * 1000)
            for d in range(20):
                value = 150.0 if (i + d) % 40 == 0 else 50.0 + d
                device = f"dev-{d}"
                reading = {
                    "device_id": device,
                    "sensor": "temp",
                    "ts": now,
                    "value": value,
                    "seq": i,
                }
                producer.produce(topics.readings, encoder.encode(1, reading), device)
            producer.produce(topics.readings, b"\x01broken", b"dev-x")  # a dead letter
            producer.poll(0)
            i += 1
            stop.wait(0.05)

    feeder = threading.Thread(target=feed, name="feeder")
    feeder.start()
    try:
        yield app, server
    finally:
        stop.set()
        feeder.join(10)
        app.request_drain()
        runner.join(60)
        server.stop()
        view.close()
        worker.stop()


@pytest.fixture
def prometheus(processor: tuple[Member, MetricsServer], tmp_path: Path) -> Iterator[str]:
    _, server = processor
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(RULES))}]\n"
        "scrape_configs:\n"
        "  - job_name: telemetry\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    binary = find_tool("prometheus")
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def _query(base: str, expr: str) -> list[object]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.loads(_get(url))
    assert answer["status"] == "success", answer
    result: list[object] = answer["data"]["result"]
    return result


def test_every_panel_query_returns_data_from_a_real_scrape(
    processor: tuple[Member, MetricsServer], prometheus: str
) -> None:
    app, server = processor
    pending = dict(queries())
    deadline = time.monotonic() + 150
    while pending and time.monotonic() < deadline:
        time.sleep(2)
        for where, expr in list(pending.items()):
            try:
                if _query(prometheus, instantiate(expr)):
                    del pending[where]
            except OSError:
                break  # Prometheus still starting
    assert not pending, f"panels without data: {sorted(pending)}"
    assert app.ready()

    exposition = _get(f"http://127.0.0.1:{server.port}/metrics")
    assert 'telemetry_kafka_assigned_partitions{stage="source",worker="0"}' in exposition
    assert _get(f"http://127.0.0.1:{server.port}/readyz") == "ready\n"
    check = subprocess.run(
        [find_tool("promtool"), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert not (check.stdout + check.stderr).strip(), check.stdout + check.stderr
    exported = {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}
    exprs = [instantiate(expr) for _, expr in queries()]
    rules = yaml.safe_load(RULES.read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    names: set[str] = set()
    for expr in exprs:
        names |= usage(expr).metrics
    for suffix in ("_bucket", "_count", "_sum", "_total", "_info"):
        names = {n.removesuffix(suffix) if n.endswith(suffix) else n for n in names}
    exported_bases = {n.removesuffix("_total").removesuffix("_info") for n in exported}
    synthetic = {"up"}  # written by Prometheus itself for every scrape target
    missing = sorted(n for n in names - synthetic if n not in exported and n not in exported_bases)
    assert missing == [], f"dashboard or rule metrics absent from the exposition: {missing}"
