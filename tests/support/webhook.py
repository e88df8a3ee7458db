"""A webhook receiver on 127.0.0.1 for the tests: answers each POST as told, keeps what it took."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], float]
"""Status, extra headers, seconds to wait before answering."""


def accept_all(n: int) -> Answer:
    del n
    return 200, {}, 0.0


class WebhookEndpoint:
    """``answer(n)`` decides the n-th request's reply (n from 1). Bodies of 2xx answers are kept
    (``bodies``: one JSON array per request; ``items``: all of them in arrival order)."""

    def __init__(self, answer: Callable[[int], Answer] = accept_all, path: str = "/hook") -> None:
        self.answer = answer
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0  # answered with a non-2xx status
        self.bodies: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sink expects

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with endpoint.lock:
                    endpoint.requests += 1
                    status, extra, delay = endpoint.answer(endpoint.requests)
                    endpoint.headers.append(dict(self.headers))
                time.sleep(delay)
                with endpoint.lock:
                    if 200 <= status < 300:  # HTTP's success class
                        endpoint.bodies.append(json.loads(body))
                    else:
                        endpoint.refused += 1
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def items(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item for body in self.bodies for item in body]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
