"""The metrics port: ``/metrics`` (Prometheus exposition), ``/healthz`` and ``/readyz``.

Served by the standard library's threading HTTP server in a daemon thread, so a stuck
processor loop never blocks a probe: ``/healthz`` is 503 when the loop stopped making progress
(Kubernetes restarts the pod), ``/readyz`` is 503 until partitions are assigned and consumed.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from telemetry.config import MetricsConfig

logger = logging.getLogger("telemetry.http")


class Observable(Protocol):
    """What the endpoint needs from the processor (:class:`telemetry.app.App` has it)."""

    @property
    def registry(self) -> CollectorRegistry: ...

    def alive(self) -> bool: ...

    def ready(self) -> bool: ...


class MetricsServer:
    """``/metrics``, ``/healthz``, ``/readyz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, app: Observable, config: MetricsConfig) -> None:
        self._app = app
        handler = type("Handler", (_Handler,), {"app": app})
        self._server = ThreadingHTTPServer((config.host, config.port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104  # display only
        return f"http://{shown}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="telemetry-http",
            daemon=True,
        )
        self._thread.start()
        logger.info("metrics endpoint listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


SOCKET_TIMEOUT_S = 10.0
"""Read and write timeout of a metrics or probe connection."""


class _Handler(BaseHTTPRequestHandler):
    app: Observable
    server_version = "telemetry"
    # A client that connects and then says nothing (or reads nothing) is dropped after this
    # many seconds instead of holding a thread forever.
    timeout = SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, encoder(self.app.registry), content_type)
        elif path == "/healthz":
            self._probe(self.app.alive(), "alive", "loop stalled")
        elif path == "/readyz":
            self._probe(self.app.ready(), "ready", "not ready")
        elif path == "/":
            body = b"telemetry: /metrics /healthz /readyz\n"
            self._reply(200, body, "text/plain; charset=utf-8")
        else:
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")

    def _probe(self, ok: bool, good: str, bad: str) -> None:
        status, text = (200, good) if ok else (503, bad)
        self._reply(status, f"{text}\n".encode(), "text/plain; charset=utf-8")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the base's name
        logger.debug(format, *args)
