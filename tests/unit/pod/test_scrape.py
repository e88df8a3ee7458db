"""Reading workers' expositions and merging them into the pod's, with the worker label."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from telemetry.config import MetricsConfig
from telemetry.http import MetricsServer
from telemetry.metrics import WORKER_LABEL
from telemetry.pod._scrape import merge, probe, scrape


class Worker:
    """What a worker's endpoint needs: a registry like an app's, and the probes."""

    def __init__(self, consumed: float) -> None:
        self.registry = CollectorRegistry()
        counter = Counter(
            "telemetry_kafka_consumed_messages",
            "Messages consumed",
            ["stage"],
            registry=self.registry,
        )
        counter.labels("source").inc(consumed)
        Gauge("telemetry_state_keys", "Keys held", registry=self.registry).set(consumed / 10)
        histogram = Histogram(
            "telemetry_processing_latency_seconds",
            "Latency",
            registry=self.registry,
            buckets=(0.1, 1.0),
        )
        histogram.observe(0.5)
        Info("telemetry_build", "Version", registry=self.registry).info({"version": "0.1.0"})

    def alive(self) -> bool:
        return True

    def ready(self) -> bool:
        return True


@pytest.fixture
def ports() -> Iterator[list[int]]:
    servers = [
        MetricsServer(Worker(consumed), MetricsConfig(port=0)).start() for consumed in (100, 250)
    ]
    try:
        yield [server.port for server in servers]
    finally:
        for server in servers:
            server.stop()


class _Collector:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def test_merged_families_carry_every_workers_samples_with_its_label(ports: list[int]) -> None:
    scraped = {index: scrape(port, 2.0) for index, port in enumerate(ports)}
    by_worker = {index: families for index, families in scraped.items() if families is not None}
    assert sorted(by_worker) == [0, 1]
    registry = CollectorRegistry()
    registry.register(_Collector(merge(by_worker)))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    consumed = "telemetry_kafka_consumed_messages_total"
    assert value(consumed, stage="source", worker="0") == 100
    assert value(consumed, stage="source", worker="1") == 250
    assert value("telemetry_state_keys", worker="1") == 25
    latency = "telemetry_processing_latency_seconds"
    assert value(f"{latency}_bucket", le="1.0", worker="0") == 1
    assert value(f"{latency}_count", worker="1") == 1
    assert value("telemetry_build_info", version="0.1.0", worker="0") == 1

    # The text format (what `curl` and older scrapers get): one HELP and TYPE per family.
    text = generate_latest(registry).decode()
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))
    assert {f.name: f.type for f in text_string_to_metric_families(text)}[latency] == "histogram"
    for family in text_string_to_metric_families(text):
        assert all(sample.labels[WORKER_LABEL] in {"0", "1"} for sample in family.samples)
    # OpenMetrics (what Prometheus asks for): the original types, counters and info included.
    openmetrics = generate_openmetrics(registry).decode()  # type: ignore[no-untyped-call]
    assert "# TYPE telemetry_kafka_consumed_messages counter" in openmetrics
    assert "# TYPE telemetry_build info" in openmetrics
    assert openmetrics.endswith("# EOF\n")


def test_a_worker_that_does_not_answer_gives_nothing() -> None:
    server = MetricsServer(Worker(1), MetricsConfig(port=0)).start()
    port = server.port
    server.stop()
    assert scrape(port, 0.5) is None
    assert probe(port, "/healthz", 0.5) is False


class _CutShort(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE telemetry_x counter\ntelemetry_x_total 1"  # no "# EOF": cut short
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # the base's name
        pass


def test_a_garbled_exposition_gives_nothing() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CutShort)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert scrape(int(server.server_address[1]), 2.0) is None
    finally:
        server.shutdown()
        server.server_close()
