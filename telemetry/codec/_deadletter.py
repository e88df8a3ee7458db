"""Dead-letter records: their headers, their counter, and rate-limited logging of them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from telemetry.codec._decoder import DecodeFailure
from telemetry.codec._reasons import Reason
from telemetry.metrics import DEADLETTER_RECORDS, counter

HEADER_REASON = "telemetry.error.reason"
HEADER_MESSAGE = "telemetry.error.message"
HEADER_SOURCE_TOPIC = "telemetry.source.topic"
HEADER_SOURCE_PARTITION = "telemetry.source.partition"
HEADER_SOURCE_OFFSET = "telemetry.source.offset"
HEADER_SCHEMA_ID = "telemetry.schema.id"
MESSAGE_HEADER_LIMIT = 1024
"""Longest error message put in a header, in characters."""

_log = logging.getLogger("telemetry.codec.deadletter")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a record was dead-lettered and where it came from; the value stays the original."""

    reason: str
    message: str
    topic: str
    partition: int
    offset: int
    schema_id: int | None = None

    @classmethod
    def from_failure(
        cls, failure: DecodeFailure, *, topic: str, partition: int, offset: int
    ) -> DeadLetter:
        """The dead letter of one ``decode_batch`` failure, given the input's position."""
        return cls(failure.reason, failure.message, topic, partition, offset, failure.schema_id)

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers (UTF-8 values; numbers in decimal); no schema id header if unknown."""
        headers = [
            (HEADER_REASON, self.reason.encode()),
            (HEADER_MESSAGE, self.message[:MESSAGE_HEADER_LIMIT].encode(errors="replace")),
            (HEADER_SOURCE_TOPIC, self.topic.encode()),
            (HEADER_SOURCE_PARTITION, str(self.partition).encode()),
            (HEADER_SOURCE_OFFSET, str(self.offset).encode()),
        ]
        if self.schema_id is not None:
            headers.append((HEADER_SCHEMA_ID, str(self.schema_id).encode()))
        return headers


@dataclass(slots=True)
class _Pending:
    last_logged: float
    count: int = 0
    message: str = ""


@dataclass(slots=True)
class RateLimitedLog:
    """Logs at most one line per key per ``interval`` seconds, with the count since the last.

    The first event of a key is logged at once. Later ones within the interval are counted and
    logged with the next event after it, or by :meth:`flush` (call it periodically and, with
    ``force=True``, on shutdown).
    """

    logger: logging.Logger = field(default=_log)
    interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    level: int = logging.WARNING
    _keys: dict[str, _Pending] = field(default_factory=dict, init=False)

    def record(self, key: str, message: str, count: int = 1) -> None:
        """Note ``count`` events of ``key``; ``message`` describes the latest of them."""
        now = self.clock()
        pending = self._keys.get(key)
        if pending is None:
            self._keys[key] = _Pending(last_logged=now)
            self._emit(key, count, message, None)
            return
        pending.count += count
        pending.message = message
        if now - pending.last_logged >= self.interval:
            self._emit(key, pending.count, pending.message, now - pending.last_logged)
            pending.last_logged, pending.count = now, 0

    def flush(self, *, force: bool = False) -> None:
        """Log the counts whose interval has passed (all of them if ``force``)."""
        now = self.clock()
        for key, pending in self._keys.items():
            if pending.count and (force or now - pending.last_logged >= self.interval):
                self._emit(key, pending.count, pending.message, now - pending.last_logged)
                pending.last_logged, pending.count = now, 0

    def _emit(self, key: str, count: int, message: str, elapsed: float | None) -> None:
        since = "" if elapsed is None else f" in the last {elapsed:.0f}s"
        self.logger.log(
            self.level,
            "dead-lettered %d record(s) with reason %s%s; latest: %s",
            count,
            key,
            since,
            message,
        )


class DeadLetterReporter:
    """Counts dead letters by reason and logs them rate-limited.

    Exports ``telemetry_deadletter_records_total{reason}`` to ``registry``; every known reason
    starts at 0 so dashboards see the series before the first failure.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        log: RateLimitedLog | None = None,
    ) -> None:
        self.counter = counter(DEADLETTER_RECORDS, registry)
        for reason in Reason:
            self.counter.labels(reason=reason.value)
        self.log = log or RateLimitedLog()

    def report(self, reason: str, message: str, count: int = 1) -> None:
        """Count ``count`` dead letters of ``reason`` and log (rate-limited)."""
        self.counter.labels(reason=reason).inc(count)
        self.log.record(reason, message, count)

    def report_failures(self, failures: list[DecodeFailure]) -> None:
        """Report every failure of one ``decode_batch`` call."""
        for failure in failures:
            self.report(failure.reason, failure.message)
