"""An HTTP webhook sink: alerts (or rollups) POSTed as JSON, with retries and a bounded queue.

One worker thread per sink takes up to ``batch_size`` queued outputs and POSTs them as one
JSON array over a kept-alive connection. A 2xx answer acks them all. A timeout, a refused
connection, 408, 429 or 5xx is retried with exponential backoff (``Retry-After`` honoured);
any other answer, or ``max_retries`` retries in a row, fails them, which stops the processor
(their inputs stay uncommitted and are replayed: nothing is lost). The queue holds at most
``queue_size`` outputs, the sink's capacity: a slow or unreachable endpoint stops the pipeline
(backpressure) instead of growing memory.

Delivery is at-least-once: an output may be POSTed again after a retry or a restart. Each item
carries an ``id`` derived from its content only, so a receiver can drop repeats.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

from telemetry._version import __version__
from telemetry.errors import ConfigError
from telemetry.metrics import WebhookMetrics, WebhookSinkMetrics
from telemetry.sinks._protocol import Delivery, SinkContext

logger = logging.getLogger("telemetry.sinks.webhook")

MAX_BACKOFF_S: Final = 30.0
"""The longest wait between two attempts (also caps ``Retry-After``)."""

_RETRIED_STATUS: Final = frozenset({408, 425, 429})
_OUTPUT_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "alerts": ("alert",),
    "rollups": ("rollup",),
    "all": ("alert", "rollup"),
}


class WebhookRejected(Exception):  # noqa: N818  # the endpoint's answer, not our failure
    """The endpoint answered with a status that retrying will not change (e.g. 400, 401)."""


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """The configuration of a webhook sink: one item of the YAML ``sinks:`` list
    (``kind: webhook``)."""

    kind_name: ClassVar[str] = "webhook"

    url: str
    """``http://`` or ``https://`` endpoint; each POST carries a JSON array of outputs."""
    name: str = "webhook"
    """Names the sink in logs and in the ``sink`` label of its metrics; unique per processor."""
    outputs: Literal["alerts", "rollups", "all"] = "alerts"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra request headers, e.g. ``Authorization`` (kept out of the repr and of logs)."""
    timeout_s: float = 5.0
    """Per request: connect plus answer."""
    max_retries: int = 8
    """Failed attempts retried in a row before the outputs are failed (0: never retry)."""
    backoff_s: float = 0.5
    """Wait before the first retry; doubled on each further one, at most 30 s."""
    queue_size: int = 1_000
    """Outputs held unacknowledged; when full, the pipeline waits (backpressure)."""
    batch_size: int = 100
    """Outputs per POST, at most."""

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ConfigError(f"url: expected an http:// or https:// URL, got {self.url!r}")
        if not self.name:
            raise ConfigError("name: must not be empty")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s: must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: must be >= 0, got {self.max_retries}")
        if self.backoff_s < 0:
            raise ConfigError(f"backoff_s: must be >= 0, got {self.backoff_s}")
        if self.queue_size < 1:
            raise ConfigError(f"queue_size: must be >= 1, got {self.queue_size}")
        if not 1 <= self.batch_size <= self.queue_size:
            raise ConfigError(
                f"batch_size: must be in 1..queue_size ({self.queue_size}), got {self.batch_size}"
            )

    def build(self, context: SinkContext) -> WebhookSink:
        return WebhookSink(self, context.metrics(WebhookMetrics).for_sink(self.name))


def item_id(kind: str, record: Mapping[str, Any]) -> str:
    """The same for every delivery of the same output (replays re-emit identical records)."""
    canonical = json.dumps([kind, record], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class WebhookSink:
    """The runtime of :class:`Webhook` (an :class:`~telemetry.sinks.OutputSink`)."""

    def __init__(self, config: Webhook, metrics: WebhookSinkMetrics) -> None:
        self.config = config
        self.metrics = metrics
        parsed = urllib.parse.urlsplit(config.url)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or ""
        self._port = parsed.port
        self._path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"telemetry/{__version__}",
            **config.headers,
        }
        self._queue: deque[Delivery] = deque()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._deadline = float("inf")  # set by stop: deliver until then, then give up
        self._thread: threading.Thread | None = None
        self._connection: http.client.HTTPConnection | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kinds(self) -> Collection[str]:
        return _OUTPUT_KINDS[self.config.outputs]

    @property
    def capacity(self) -> int:
        return self.config.queue_size

    def start(self) -> None:
        self._stopping.clear()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.name}", daemon=True)
        self._thread.start()

    def send(self, deliveries: list[Delivery]) -> None:
        with self._wake:
            self._queue.extend(deliveries)
            self.metrics.queued.set(len(self._queue))
            self._wake.notify()

    def stop(self, timeout: float) -> None:
        with self._wake:
            self._deadline = time.monotonic() + max(timeout, 0.0)
            self._stopping.set()
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(max(timeout, 0.0) + self.config.timeout_s)
            self._thread = None
        self._close()
        if self._queue:
            logger.warning(
                "webhook %s stopped with %d outputs not delivered", self.name, len(self._queue)
            )

    # -- the worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._deliver(batch)

    def _next_batch(self) -> list[Delivery] | None:
        """Up to ``batch_size`` queued outputs (left queued until delivered); ``None`` once
        stopping with nothing left, or past the stop deadline."""
        with self._wake:
            while not self._queue:
                if self._stopping.is_set():
                    return None
                self._wake.wait()
            if self._past_deadline():
                return None
            queue = self._queue
            return [queue[i] for i in range(min(len(queue), self.config.batch_size))]

    def _deliver(self, batch: list[Delivery]) -> None:
        body = json.dumps(
            [
                {
                    "id": item_id(d.kind, d.record),
                    "kind": d.kind,
                    "key": d.key,
                    "record": d.record,
                }
                for d in batch
            ],
            separators=(",", ":"),
        ).encode()
        failures = 0
        while True:
            try:
                retry = self._post(body)
            except WebhookRejected as exc:
                self._settle(batch, exc)
                return
            if retry is None:
                self._settle(batch, None)
                return
            least, why = retry
            failures += 1
            if failures > self.config.max_retries:
                error = ConnectionError(
                    f"webhook {self.name}: gave up after {failures} attempts: {why}"
                )
                self._settle(batch, error)
                return
            self.metrics.retries.inc()
            wait = max(min(self.config.backoff_s * 2 ** (failures - 1), MAX_BACKOFF_S), least)
            logger.warning(
                "webhook %s: %s; retry %d/%d in %.1f s",
                self.name,
                why,
                failures,
                self.config.max_retries,
                wait,
            )
            self._sleep(wait)
            if self._past_deadline():
                return  # stopping: what is left stays unacknowledged, so uncommitted

    def _sleep(self, seconds: float) -> None:
        """Back off for ``seconds``, or until the stop deadline if that comes first."""
        end = time.monotonic() + seconds
        with self._wake:  # stop() notifies: the deadline is then re-read
            while (now := time.monotonic()) < (until := min(end, self._deadline)):
                self._wake.wait(until - now)

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._deadline

    def _post(self, body: bytes) -> tuple[float, str] | None:
        """``None`` when delivered; ``(wait at least, why)`` when worth retrying."""
        try:
            connection = self._connect()
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            response.read()  # the connection is reused only once the answer is consumed
        except (OSError, http.client.HTTPException) as exc:
            self._close()
            return 0.0, f"request failed: {exc or type(exc).__name__}"
        status = response.status
        if 200 <= status < 300:  # HTTP's success class
            return None
        reason = f"answered {status} {response.reason}"
        if response.will_close:
            self._close()
        if status in _RETRIED_STATUS or status >= 500:  # server errors
            return _retry_after(response.getheader("Retry-After")), reason
        raise WebhookRejected(f"webhook {self.name} ({self.config.url}) {reason}")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = cls(self._host, self._port, timeout=self.config.timeout_s)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _settle(self, batch: list[Delivery], error: BaseException | None) -> None:
        with self._wake:
            for _ in batch:
                self._queue.popleft()
            self.metrics.queued.set(len(self._queue))
        if error is None:
            self.metrics.sent.inc(len(batch))
            for delivery in batch:
                delivery.ack()
        else:
            self.metrics.failures.inc(len(batch))
            for delivery in batch:
                delivery.fail(error)


def _retry_after(value: str | None) -> float:
    """``Retry-After`` in seconds (the delta form; an HTTP date counts as no hint)."""
    if value is None:
        return 0.0
    try:
        return min(max(float(value), 0.0), MAX_BACKOFF_S)
    except ValueError:
        return 0.0
