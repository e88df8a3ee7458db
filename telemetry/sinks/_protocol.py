"""The output sink plug-in: what ``App(config, sinks=[...])`` takes besides the Kafka outputs.

A sink receives rollups and alerts as values (the records of ``schemas/rollup.avsc`` and
``schemas/alert.avsc``), each with its acknowledgement handle (:class:`Delivery`), and acks each
one once it is durably delivered, from any thread. Until every sink has acked an output, the
input it came from is not committed and its checkpoint is not written: at-least-once holds for
every sink, and a sink that fails an output stops the processor rather than lose it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from prometheus_client import CollectorRegistry

from telemetry.kafka import Output

_Bundle = TypeVar("_Bundle")


class Reports:
    """Where a sink's deliveries report, from any thread (``deque.append`` is atomic); the
    pipeline thread takes them and settles the outputs' handles."""

    __slots__ = ("_queue", "_signal")

    def __init__(self) -> None:
        self._queue: deque[tuple[Output, BaseException | None]] = deque()
        self._signal = threading.Event()

    def put(self, output: Output, error: BaseException | None) -> None:
        self._queue.append((output, error))
        self._signal.set()

    def wait(self, timeout: float) -> None:
        """Block until a report arrives, at most ``timeout`` seconds."""
        if not self._queue:
            self._signal.wait(timeout)
        self._signal.clear()

    def take(self) -> list[tuple[Output, BaseException | None]]:
        queue = self._queue
        return [queue.popleft() for _ in range(len(queue))]

    def clear(self) -> None:
        self._queue.clear()


class Delivery:
    """One output handed to a sink: its ``kind`` ("rollup" or "alert"), ``key`` (the device
    id), ``record`` (the value) and the handle: call :meth:`ack` or :meth:`fail` once."""

    __slots__ = ("_output", "_reports", "key", "kind", "record")

    def __init__(self, output: Output, reports: Reports) -> None:
        emitted = output.emitted
        assert emitted is not None  # noqa: S101 - the stage passes only rollups and alerts
        self.kind: str = emitted.kind
        self.record: Mapping[str, Any] = emitted.record
        self.key: str = emitted.key
        self._output = output
        self._reports = reports

    def ack(self) -> None:
        """Durably delivered (thread-safe)."""
        self._reports.put(self._output, None)

    def fail(self, error: BaseException) -> None:
        """Given up on (thread-safe): the processor stops; the input is replayed elsewhere."""
        self._reports.put(self._output, error)

    def __repr__(self) -> str:
        return f"Delivery({self.kind}, key={self.key!r})"


class OutputSink(Protocol):
    """A destination for rollups and alerts (see the module doc and README, "Output sinks").

    ``kinds`` are the outputs it wants ("rollup", "alert"); ``capacity`` is the most deliveries
    it holds unacknowledged: no more are sent until it acks some, so a slow sink slows the
    pipeline (backpressure) instead of growing a queue.
    """

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> Collection[str]: ...

    @property
    def capacity(self) -> int: ...

    def start(self) -> None:
        """Before the first output (open connections, start threads)."""

    def send(self, deliveries: list[Delivery]) -> None:
        """Take deliveries without blocking; ack (or fail) each one later."""

    def stop(self, timeout: float) -> None:
        """Deliver what it can within ``timeout``, then release its resources."""


class SinkContext:
    """What a configured sink is built with: the processor's registry, and one instance per
    processor of each metrics bundle (prometheus_client refuses a metric registered twice, and
    two sinks of one kind share their metrics under different ``sink`` labels)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._bundles: dict[Callable[[CollectorRegistry], Any], Any] = {}

    def metrics(self, bundle: Callable[[CollectorRegistry], _Bundle]) -> _Bundle:
        if bundle not in self._bundles:
            self._bundles[bundle] = bundle(self.registry)
        made: _Bundle = self._bundles[bundle]
        return made


class SinkSpec(Protocol):
    """One item of the YAML ``sinks:`` list: a frozen dataclass whose fields are the item's
    keys, registered under its ``kind_name`` in :data:`~telemetry.sinks.SINK_KINDS`."""

    kind_name: ClassVar[str]

    @property
    def name(self) -> str: ...

    def build(self, context: SinkContext) -> OutputSink: ...
