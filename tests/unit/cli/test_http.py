"""The metrics port: exposition and the two probes, against a fake processor."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from telemetry import http as http_module
from telemetry.config import MetricsConfig
from telemetry.http import MetricsServer


class FakeApp:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        Counter("telemetry_fake", "a test counter", registry=self.registry).inc(3)
        self.is_alive = True
        self.is_ready = False

    def alive(self) -> bool:
        return self.is_alive

    def ready(self) -> bool:
        return self.is_ready


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()


@pytest.fixture
def server(app: FakeApp) -> Iterator[MetricsServer]:
    with MetricsServer(app, MetricsConfig(port=0)) as running:
        yield running


def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_port_zero_binds_a_free_port(server: MetricsServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"


def test_metrics_exposes_the_registry(server: MetricsServer) -> None:
    status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "telemetry_fake_total 3.0" in body


def test_healthz_follows_alive(app: FakeApp, server: MetricsServer) -> None:
    assert get(server, "/healthz")[0] == 200
    app.is_alive = False
    assert get(server, "/healthz")[0] == 503


def test_readyz_follows_ready(app: FakeApp, server: MetricsServer) -> None:
    assert get(server, "/readyz")[0] == 503
    app.is_ready = True
    assert get(server, "/readyz")[0] == 200


def test_unknown_path_is_404(server: MetricsServer) -> None:
    assert get(server, "/nope")[0] == 404


def test_a_silent_client_is_dropped_after_the_socket_timeout(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = http_module._Handler.timeout
    assert default is not None
    assert 0 < default <= 30  # the stdlib default is None: wait forever
    monkeypatch.setattr(http_module._Handler, "timeout", 0.3)
    with MetricsServer(app, MetricsConfig(port=0)) as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the server, not by our own timeout
            assert time.monotonic() - started < 4
        assert get(running, "/healthz")[0] == 200  # and it still serves everyone else
