"""The exactly-once mode's one transactional producer.

Every output, every changelog record and the consumed offsets of one commit interval go out
in one transaction (Kafka's EOS v2, KIP-447): the offsets are sent with the consumer's group
metadata, so a member that lost its partitions (a zombie) is fenced by the group's generation
at its next commit, and nothing it produced since its last commit ever becomes visible to
``read_committed`` consumers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.errors import RejoinError
from telemetry.metrics import TransactionMetrics

logger = logging.getLogger("telemetry.kafka")

_PROCESS_TOKEN = uuid.uuid4().hex[:12]  # with the pid: unique even across forks and hosts

OPERATION_TIMEOUT_S = 30.0
"""Longest wait for init, send-offsets, commit and abort (each retried within it)."""
# A transactional call still inside librdkafka this long is stuck (its own timeouts are 10 s,
# retried within OPERATION_TIMEOUT_S).
STUCK_AFTER_S = OPERATION_TIMEOUT_S + 15.0


def transactional_id(group_id: str, instance_id: str | None) -> str:
    """The producer's ``transactional.id``.

    With static membership it is stable (``<group>-<instance>``): a restarted member fences
    its previous incarnation at once and aborts the transaction that one left open, so
    read_committed consumers are not held back until the transaction times out. Without it,
    it must be unique per process: two live processes sharing an id would fence each other in
    turn. It stays the same for the process's life, so a member that rejoins in-process
    fences its own earlier producer and aborts what that one left open (a broker outage can
    leave it open). Either way the group generation (KIP-447) fences a zombie, not the id."""
    if instance_id:
        return f"{group_id}-{instance_id}"
    return f"{group_id}-{socket.gethostname()}-{os.getpid()}-{_PROCESS_TOKEN}"


class Transactions:
    """One transactional producer, always inside an open transaction once started.

    :meth:`commit` ends the transaction with the consumed offsets and opens the next one. Any
    failure that loses the transaction (an abortable error, a fenced producer, a fatal error)
    aborts what can be aborted and raises :class:`RejoinError`: the member's in-memory state
    is then ahead of what was committed, so it must leave and restore.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        transactional_id: str,
        *,
        timeout_ms: int,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.transactional_id = transactional_id
        self._config = {
            "linger.ms": 5,
            "compression.type": "lz4",
            **config,
            "enable.idempotence": True,
            "acks": "all",
            "transactional.id": transactional_id,
            "transaction.timeout.ms": timeout_ms,
        }
        self.metrics = TransactionMetrics(registry if registry is not None else CollectorRegistry())
        self.producer: Producer | None = None
        self.doomed: str | None = None  # why the open transaction may not be committed

    def start(self) -> Producer:
        if self.producer is None:
            producer = Producer(self._config, logger=logger)
            try:
                # Fences an older producer with this id and aborts what it left open.
                producer.init_transactions(OPERATION_TIMEOUT_S)
                producer.begin_transaction()
            except KafkaException as exc:
                raise RejoinError(f"cannot start the transactional producer: {exc}") from None
            self.producer = producer
            logger.info("transactional producer %s ready", self.transactional_id)
        return self.producer

    def doom(self, why: str) -> None:
        """Mark the open transaction as not to be committed (aborted at the next commit)."""
        if self.doomed is None:
            self.doomed = why

    def commit(self, offsets: list[TopicPartition], group_metadata: object) -> None:
        """Commit the open transaction with ``offsets`` and begin the next one."""
        producer = self._producer()
        if self.doomed is not None:
            self._abort_and_rejoin(self.doomed)
        started = time.monotonic()
        self._bounded(
            "committing the transaction",
            lambda: self._commit_retrying(producer, offsets, group_metadata, started),
        )
        self.metrics.transactions.labels("committed").inc()
        self.metrics.commit_seconds.observe(time.monotonic() - started)
        try:
            producer.begin_transaction()
        except KafkaException as exc:
            raise RejoinError(f"cannot begin a transaction: {exc}") from None

    def _commit_retrying(
        self,
        producer: Producer,
        offsets: list[TopicPartition],
        group_metadata: object,
        started: float,
    ) -> None:
        deadline = started + OPERATION_TIMEOUT_S
        sent = not offsets
        while True:
            try:
                if not sent:
                    producer.send_offsets_to_transaction(offsets, group_metadata, 10.0)
                    sent = True
                producer.commit_transaction(10.0)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.retriable() and time.monotonic() < deadline:
                    # e.g. the coordinator moved or the brokers are down: the same call again
                    logger.warning(
                        "committing the transaction again (%.0f s so far): %s",
                        time.monotonic() - started,
                        error.str(),
                    )
                    continue
                if error.txn_requires_abort():
                    self._abort_and_rejoin(f"the transaction failed: {error.str()}")
                raise RejoinError(f"the transactional producer failed: {error.str()}") from None
            else:
                return

    def _bounded(self, what: str, call: Callable[[], None]) -> None:
        """Run ``call`` (librdkafka's transactional calls) on a helper thread and wait at most
        ``STUCK_AFTER_S``. After a broker restart librdkafka was seen blocking in
        ``commit_transaction(10.0)`` for minutes, far past its timeout, so the member stopped
        for good. The producer is then given up, not closed (a call is still inside it): the
        member rejoins, and the new producer, with the same transactional.id, fences it and
        aborts what it left open (or completes its commit; either way all or nothing)."""
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                call()
            except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name="telemetry-transaction", daemon=True).start()
        if not done.wait(STUCK_AFTER_S):
            self.producer = None
            self.metrics.stuck.inc()
            raise RejoinError(
                f"{what} did not return within {STUCK_AFTER_S:.0f} s; the producer is given "
                "up and the member rejoins (its successor fences it)"
            )
        if failure:
            raise failure[0]

    def abort(self, reopen: bool = True) -> None:
        """Abort the open transaction (best effort: a fenced producer cannot), and open a
        new one unless ``reopen`` is False, so producing goes on without errors until the
        member rejoins; what it holds is doomed."""
        producer = self.producer
        if producer is None:
            return
        try:
            self._bounded(
                "aborting the transaction",
                lambda: producer.abort_transaction(OPERATION_TIMEOUT_S),
            )
            self.metrics.transactions.labels("aborted").inc()
            if reopen:
                producer.begin_transaction()
                self.doom("an earlier transaction of this member was aborted")
        except (KafkaException, RejoinError) as exc:
            logger.warning("aborting the transaction failed: %s", exc)

    def stop(self) -> None:
        """Abort what was not committed (the next owner replays it) and close."""
        if self.producer is not None:
            self.abort(reopen=False)
            self.producer = None

    def _abort_and_rejoin(self, why: str) -> None:
        self.abort()
        raise RejoinError(f"{why}; its work is aborted and replayed")

    def _producer(self) -> Producer:
        if self.producer is None:
            raise RejoinError("the transactional producer is not started")
        return self.producer
