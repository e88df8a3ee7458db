"""The thin Kafka side of the simulator: pace, produce, count, report progress."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from confluent_kafka import KafkaError, Message, Producer

from telemetry.simulate._fleet import KINDS, Fleet

PROGRESS_INTERVAL_S = 1.0


@dataclass
class SimStats:
    """Totals of one simulation run (updated as it goes; read by progress and the demo)."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    silent_devices: int = 0
    last_error: str | None = None

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def summary(self, topic: str) -> str:
        kinds = ", ".join(f"{kind} {self.by_kind[kind]}" for kind in KINDS)
        line = (
            f"simulate: sent {self.sent} records to {topic} in {self.elapsed():.1f} s "
            f"({self.sent / self.elapsed():.0f}/s): {kinds}; silent devices "
            f"{self.silent_devices}; delivered {self.delivered}, failed {self.failed}"
        )
        if self.last_error:
            line += f" (last error: {self.last_error})"
        return line


class Progress:
    """Once a second on a terminal: a rewritten status line; elsewhere: one final summary."""

    def __init__(self, stream: TextIO, topic: str, *, tty: bool | None = None) -> None:
        self._stream = stream
        self._topic = topic
        self._tty = stream.isatty() if tty is None else tty
        self._last = time.monotonic()
        self._last_sent = 0

    def tick(self, stats: SimStats, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._tty or (not force and now - self._last < PROGRESS_INTERVAL_S):
            return
        rate = (stats.sent - self._last_sent) / max(now - self._last, 1e-9)
        self._last, self._last_sent = now, stats.sent
        kinds = stats.by_kind
        self._stream.write(
            f"\rsimulate: {stats.sent:,} sent, {rate:,.0f}/s | anomalies {kinds['anomaly']:,}"
            f" | out-of-order {kinds['out_of_order']:,} | late {kinds['late']:,}"
            f" | broken {kinds['broken']:,} | silent devices {stats.silent_devices}"
            f" | failed {stats.failed:,}   "
        )
        self._stream.flush()

    def done(self, stats: SimStats) -> None:
        if self._tty:
            self._stream.write("\n")
        self._stream.write(stats.summary(self._topic) + "\n")
        self._stream.flush()


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def simulate(
    fleet: Fleet,
    producer: Producer,
    topic: str,
    *,
    rate: float = 0.0,
    count: int | None = None,
    duration: float | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    stats: SimStats | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
    flush_timeout: float = 30.0,
) -> SimStats:
    """Produce ``fleet``'s records to ``topic`` until ``count`` records, ``duration`` seconds,
    ``stop`` is set, or every device is silent. ``rate`` is records per second (0: unpaced).

    Returns the totals after flushing the producer.
    """
    stats = stats if stats is not None else SimStats()
    stats.started = time.monotonic()
    deadline = None if duration is None else stats.started + duration

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            stats.delivered += 1
        else:
            stats.failed += 1
            stats.last_error = str(err)

    while count is None or stats.sent < count:
        now = time.monotonic()
        if (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline):
            break
        if rate > 0:
            ahead = stats.started + stats.sent / rate - now
            if ahead > 0:
                _wait(min(ahead, 0.1), stop)
                producer.poll(0)
                continue
        now_ms = clock_ms()
        record = fleet.next(now_ms)
        if record is None:
            break
        _produce(producer, topic, record.key, record.value, delivered)
        stats.sent += 1
        stats.by_kind[record.kind] += 1
        if stats.sent % 1000 == 0:
            producer.poll(0)
            stats.silent_devices = len(fleet.silent_devices(now_ms))
        if progress is not None and stats.sent % 64 == 0:
            progress.tick(stats)
    producer.flush(flush_timeout)
    stats.silent_devices = len(fleet.silent_devices(clock_ms()))
    if progress is not None:
        progress.tick(stats, force=True)
        progress.done(stats)
    return stats


def _produce(
    producer: Producer,
    topic: str,
    key: bytes,
    value: bytes | None,
    on_delivery: Callable[[KafkaError | None, Message], Any],
) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)  # the local queue is full: let deliveries drain it
        else:
            return


def _wait(seconds: float, stop: threading.Event | None) -> None:
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)
