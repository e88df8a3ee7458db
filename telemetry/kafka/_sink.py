"""The Kafka sink stage: an idempotent producer whose demand is the room in its in-flight window.

It asks upstream for ``window`` outputs and asks again as delivery reports free room, so a slow
or failing broker slows the whole pipeline instead of growing memory. A full local queue
(``BufferError``) is backpressure: the rest of the batch waits in the sink and is produced once
librdkafka has room. A delivery report settles the output's acknowledgement handle
(:class:`~telemetry.kafka.Ack`: its offset hold, or its checkpoint's count); the sink touches no
offset itself. A failed delivery is produced again up to ``max_retries`` times, then the stage
escalates: nothing is dropped silently.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import CollectorRegistry

from telemetry.errors import KafkaClientError, RejoinError
from telemetry.kafka._offsets import PartitionOffsets
from telemetry.kafka._records import Output
from telemetry.kafka._transactions import Transactions
from telemetry.metrics import KafkaMetrics
from telemetry.stages import Sink, StopBudget, Supervision

logger = logging.getLogger("telemetry.kafka")


class KafkaSink(Sink[Output]):
    """Produce :class:`Output` batches; subscribe it with ``manual=True``."""

    def __init__(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        window: int = 20_000,
        max_retries: int = 3,
        rate_limit: float | None = None,
        metrics: KafkaMetrics | None = None,
        supervision: Supervision | None = None,
        stop_budget: StopBudget | None = None,
        transactions: Transactions | None = None,
    ) -> None:
        super().__init__(name=name, supervision=supervision)
        if window < 1:
            raise ValueError("window must be >= 1")
        self._config = {
            "linger.ms": 5,
            "compression.type": "lz4",
            **config,
            "enable.idempotence": True,
        }
        self.window = window
        self.max_retries = max_retries
        # Outputs per second (None: unlimited). Enforced on demand, so a limited sink is
        # backpressure like any slow one: the source pauses, nothing piles up in memory.
        self.rate_limit = rate_limit
        self.stop_budget = stop_budget if stop_budget is not None else StopBudget()
        # Exactly-once: produce into the shared transactional producer; a failed delivery
        # then loses the whole transaction, so it is not retried but rejoined.
        self.transactions = transactions
        self._owed = 0
        self._budget = 0.0
        self._refilled = time.monotonic()
        # Shared with the pipeline's source (one set per registry); a private one when None.
        self.metrics = metrics if metrics is not None else KafkaMetrics(CollectorRegistry())
        self.producer: Producer | None = None
        self._backlog: deque[Output] = deque()  # accepted, not yet taken by librdkafka
        self._in_flight = 0
        self._freed = 0
        self._delivered = 0
        self._retries: dict[int, int] = {}
        self._failed: list[tuple[Output, KafkaError]] = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._open()
        self._owed = 0
        self._grant(self.window)

    def _open(self) -> None:
        if self.transactions is not None:
            self.producer = self.transactions.start()
        else:
            self.producer = Producer(self._config, logger=logger)
        self.stop_budget.reset()
        self.metrics.init_sink(self.name)
        self.metrics.up.labels(self.name).set(1)

    def stop(self) -> None:
        producer = self.producer
        if producer is None:
            return
        if self.transactions is None:  # a transaction's outputs end with its commit
            self.flush(self.stop_budget.remaining(STOP_FLUSH_S))
        if self._in_flight or self._backlog:
            logger.warning(
                "sink stopped with %d outputs undelivered; their inputs stay uncommitted",
                self._in_flight + len(self._backlog),
            )
        self.producer = None
        self.metrics.up.labels(self.name).set(0)

    def restart(self) -> None:
        """A new producer. Nothing accepted is lost and the window is not granted again: what
        the old producer could not deliver within :data:`RESTART_FLUSH_S` is purged (its
        delivery reports come back as failures) and produced again, in order, by the new
        one; the room it held stays counted until then."""
        producer = self.producer
        if self.transactions is not None:
            raise RejoinError("the transactional producer failed mid-transaction")
        if producer is None:
            self._open()
            return
        producer.flush(RESTART_FLUSH_S)
        producer.purge()  # undelivered outputs: reported as failed, not silently forgotten
        producer.flush(RESTART_FLUSH_S)  # serves those reports
        self._settle()
        self._open()
        if self._backlog:
            self._produce_backlog()

    def backlog(self) -> int:
        """Outputs accepted and not yet handed to librdkafka."""
        return len(self._backlog)

    # -- the stage protocol -----------------------------------------------------------------

    def write(self, events: list[Output]) -> None:
        if self._backlog:  # keep order behind what is already waiting
            self._backlog.extend(events)
            self._produce_backlog()
        else:
            self._produce(events)

    def wait(self, timeout: float) -> None:
        producer = self.producer
        if producer is None:
            return
        if self._owed:
            self._grant(0)
        if self._backlog:
            self._produce_backlog()
        producer.poll(timeout)
        self._settle()

    def set_rate_limit(self, rate_limit: float | None) -> None:
        """Change the output rate limit (None lifts it); owed demand follows the new rate."""
        self.rate_limit = rate_limit
        self._grant(0)

    def _grant(self, n: int) -> None:
        """Give ``n`` events of demand back upstream, at most ``rate_limit`` per second."""
        owed = self._owed + n
        if self.rate_limit is None:
            grant = owed
        else:
            now = time.monotonic()
            # Up to one second's worth may accumulate (at least one event, for slow rates).
            self._budget = min(
                self._budget + (now - self._refilled) * self.rate_limit, max(self.rate_limit, 1.0)
            )
            self._refilled = now
            grant = min(owed, int(self._budget))
            self._budget -= grant
        self._owed = owed - grant
        if grant:
            self.ask(grant)

    def in_flight(self) -> int:
        return self._in_flight + len(self._backlog)

    def flush(self, timeout: float) -> bool:
        """Deliver everything accepted so far; True if nothing is left in flight."""
        deadline = time.monotonic() + timeout
        while self.in_flight() and time.monotonic() < deadline:
            self.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.in_flight() == 0

    def finish(
        self, partitions: Sequence[PartitionOffsets], timeout: float, abandon: bool = False
    ) -> None:
        """Revoke listener: outputs of the revoked partitions that were not handed to librdkafka
        yet are abandoned (they are replayed); then, unless ``abandon`` (the partitions were
        lost, so waiting buys nothing), deliver what is in flight within ``timeout``."""
        revoked = {id(p) for p in partitions}
        kept = deque(out for out in self._backlog if id(out.source) not in revoked)
        abandoned = len(self._backlog) - len(kept)
        if abandoned:
            self._backlog = kept
            self._freed += abandoned
            self.metrics.abandoned.labels(self.name).inc(abandoned)
        if not abandon:
            self.flush(timeout)

    # -- producing --------------------------------------------------------------------------

    def _produce_backlog(self) -> None:
        backlog, self._backlog = list(self._backlog), deque()
        self._produce(backlog)

    def _produce(self, outputs: list[Output]) -> None:
        """Hand ``outputs`` to librdkafka in order; what does not fit waits in the backlog."""
        producer = self.producer
        if producer is None:
            self._backlog.extend(outputs)
            return
        produce = producer.produce
        report = self._report
        partial = functools.partial
        produced = abandoned = refused = 0
        for out in outputs:
            source = out.source
            if source is not None and source.revoked:
                abandoned += 1  # the partition moved on; its new owner replays this
                continue
            try:
                while True:
                    try:
                        produce(
                            out.topic,
                            out.value,
                            out.key,
                            headers=out.headers,
                            on_delivery=partial(report, out),
                        )
                        break
                    except KafkaException as exc:  # refused at once: this message only
                        error: KafkaError = exc.args[0]
                        if not (_too_large(error) and cut_to_fit(out, error)):
                            raise
            except BufferError:
                # A full local queue is backpressure: keep the rest, serve reports, retry later.
                self._backlog.extend(outputs[produced + abandoned + refused :])
                producer.poll(0)
                break
            except KafkaException as exc:
                # Retried (in order) and escalated like a failed delivery, never dropped.
                self._failed.append((out, exc.args[0]))
                self._freed += 1  # never in flight: its retry takes the room back
                refused += 1
                continue
            produced += 1
        if abandoned:
            self._freed += abandoned
            self.metrics.abandoned.labels(self.name).inc(abandoned)
        self._in_flight += produced

    def _report(self, out: Output, error: KafkaError | None, message: Message) -> None:
        del message
        # Runs inside producer.poll(); only record here, settle after poll returns.
        if error is None:
            self._delivered += 1
            if self._retries:
                self._retries.pop(id(out), None)
            out.acked()  # settles once every sink delivered it (telemetry.sinks)
            if out.started:
                now = time.time()
                self.metrics.processing_latency.observe(now - out.started)
                if out.event_time:
                    self.metrics.end_to_end_latency.observe(now - out.event_time)
        else:
            self._failed.append((out, error))
        self._in_flight -= 1
        self._freed += 1

    def _settle(self) -> None:
        if self._delivered:
            self.metrics.produced.labels(self.name).inc(self._delivered)
            self._delivered = 0
        if self._failed:
            failed, self._failed = self._failed, []
            try:
                for out, error in failed:
                    self._retry(out, error)  # raises when its retries ran out
            finally:
                # Produced again in their order, ahead of what waits; when the stage escalates,
                # they stay queued with their holds: nothing is dropped.
                self._backlog.extendleft(out for out, _ in reversed(failed))
        if self._freed:
            freed, self._freed = self._freed, 0
            self._grant(freed)
        self.metrics.in_flight.labels(self.name).set(self._in_flight)

    def _retry(self, out: Output, error: KafkaError) -> None:
        """Count a failed delivery of ``out`` (the caller queues it again); KafkaClientError
        when it has failed ``max_retries`` times or the error is fatal."""
        if error.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
            self._freed -= 1  # purged by a restart of ours: not the output's failure
            return
        self.metrics.delivery_failures.labels(self.name).inc()
        if self.transactions is not None:
            self.transactions.doom(f"delivery to {out.topic} failed: {error.str()}")
            raise RejoinError(f"delivery to {out.topic} failed inside a transaction: {error.str()}")
        if _too_large(error) and cut_to_fit(out, error):  # the broker's limit, not ours
            self._freed -= 1
            return
        attempts = self._retries.get(id(out), 0) + 1
        if attempts > self.max_retries or (not error.retriable() and error.fatal()):
            raise KafkaClientError(
                f"delivery to {out.topic} failed {attempts} time(s): {error.str()}",
                topic=out.topic,
            )
        logger.warning(
            "delivery to %s failed (%s); producing again (attempt %d of %d)",
            out.topic,
            error.str(),
            attempts,
            self.max_retries,
        )
        self._retries[id(out)] = attempts
        self._freed -= 1  # the retried output takes its room back


STOP_FLUSH_S = 30.0
"""At stop: longest wait for the last deliveries (within the stop budget)."""
RESTART_FLUSH_S = 5.0
"""On a restart: how long the old producer may still deliver before the rest is purged."""
CUT_COPY_BYTES = 16 * 1024
"""How much of an original a dead letter keeps when the whole does not fit."""
HEADER_ORIGINAL_BYTES = "telemetry.original.bytes"


def _too_large(error: KafkaError) -> bool:
    return error.code() in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE)


def cut_to_fit(out: Output, error: KafkaError) -> bool:
    """Make a dead letter that is too large smaller, one step per call; False when it cannot
    be (not a dead letter, or nothing left to cut).

    1. Keep the first :data:`CUT_COPY_BYTES` of the original, and its size in a header.
    2. Drop the original's own headers (they may be what is large); ours stay: the reason and
       the original's topic, partition and offset.
    3. Drop the copy: the dead letter is then a pointer to the original.
    """
    if not out.cuttable:
        return False
    headers = list(out.headers or ())
    value = out.value
    if not any(name == HEADER_ORIGINAL_BYTES for name, _ in headers):
        size = len(value) if value is not None else 0
        headers.append((HEADER_ORIGINAL_BYTES, str(size).encode()))
        out.headers = headers
        if value is not None and len(value) > CUT_COPY_BYTES:
            out.value = value[:CUT_COPY_BYTES]
        step = f"cut to {CUT_COPY_BYTES:,} bytes of {size:,}"
    elif any(not name.startswith("telemetry.") for name, _ in headers):
        out.headers = [(name, v) for name, v in headers if name.startswith("telemetry.")]
        step = "without the original's headers"
    elif value is not None:
        out.value = None
        step = "as a pointer only (no copy)"
    else:
        return False
    logger.warning(
        "a dead letter for %s did not fit (%s): producing it %s", out.topic, error.str(), step
    )
    return True
