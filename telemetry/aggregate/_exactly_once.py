"""Exactly-once checkpoints: outputs, changelog records and offsets in one transaction.

The outputs of a pass go into the open transaction as the sink produces them. Every commit
interval, at the first moment the pipeline is quiet (every output of the input applied so far
has been handed to the producer), each assigned partition's changed keys and marker are written
into the same transaction and the transaction commits with the consumed offsets: the position
every partition's state covers. So for a read_committed consumer a pass's outputs and the state
and offsets that follow from it appear together or not at all.

The source polls librdkafka only while the pipeline is quiet, so a revoke (which runs inside
that poll) finds the same moment and commits the same way before the partitions go. A loss,
a failed pass or a fenced producer abort instead: the in-memory state is then ahead of what
was committed, and the member rejoins (:class:`telemetry.errors.RejoinError`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.aggregate._checkpoint import Checkpointer, ReadChangelog
from telemetry.aggregate._snapshot import delta
from telemetry.errors import RejoinError
from telemetry.kafka import ChangelogWriter, PartitionOffsets, Transactions

logger = logging.getLogger("telemetry.state")


class TransactionalCheckpointer(Checkpointer):
    """The checkpointer of ``processing.guarantee: exactly_once`` (see module doc)."""

    def __init__(
        self,
        *,
        writer: ChangelogWriter,
        read: ReadChangelog,
        interval: float,
        ttl_ms: int | None,
        registry: CollectorRegistry,
        transactions: Transactions,
        readings_topic: str,
        quiet: Callable[[], bool],
        group_metadata: Callable[[], object],
    ) -> None:
        super().__init__(
            writer=writer,
            read=read,
            interval=interval,
            ttl_ms=ttl_ms,
            registry=registry,
        )
        self.transactions = transactions
        self.readings_topic = readings_topic
        self.quiet = quiet
        self.group_metadata = group_metadata
        self._due = False
        self.rejoin: str | None = None  # why this member must leave and restore

    # -- the cycle ----------------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """Commit when the interval is up and the pipeline is quiet; raise RejoinError when
        the open transaction was lost."""
        if self.rejoin is not None:
            raise RejoinError(self.rejoin)
        if now >= self._next_cut:
            self._next_cut = now + self.interval
            self._due = True
        if self._due and self.quiet():
            self._due = False
            self.commit()
        self.writer.poll(0)

    def commit(self) -> None:
        """Write every partition's changes and commit them with the outputs and offsets."""
        if self.rejoin is not None:
            self.transactions.doom(self.rejoin)
        offsets: list[TopicPartition] = []
        evicted = 0
        writer = self.writer
        records_before, bytes_before = writer.records_total, writer.bytes_total
        for tracker, chain in self._chains.items():
            state = chain.state
            if state.position is None:
                continue  # nothing applied yet: nothing to cover
            if chain.failed:
                self.transactions.doom("an aggregation pass failed halfway")
                break
            if state.dirty or state.position != chain.covers or state.clock != chain.clock:
                records, gone = delta(state, self.ttl_ms)
                evicted += gone
                writer.write_now(tracker.partition, records)
                chain.covers, chain.clock = state.position, state.clock
                self.metrics.checkpoints.inc()
            offsets.append(TopicPartition(self.readings_topic, tracker.partition, state.position))
        try:
            self.transactions.commit(offsets, self.group_metadata())
        except RejoinError as exc:
            self.rejoin = str(exc)  # so a revoke or stop that follows aborts, never commits
            raise
        for tracker, chain in self._chains.items():
            position = chain.state.position
            if position is not None:
                tracker.durable = tracker.committed = position
        self.metrics.records.inc(writer.records_total - records_before)
        self.metrics.bytes.inc(writer.bytes_total - bytes_before)
        self.metrics.evicted.inc(evicted)
        self._count_keys()

    # -- revoke and loss ----------------------------------------------------------------------

    def cut(self, partitions: Sequence[PartitionOffsets]) -> None:
        del partitions  # the commit on revoke covers everything (finish)

    def finish(self, partitions: Sequence[PartitionOffsets], timeout: float) -> None:
        """On revoke (and at stop): commit everything up to now, then forget the partitions.
        The source polled only while the pipeline was quiet, so every output is in."""
        del timeout
        try:
            if self.rejoin is None and self.quiet():
                started = time.monotonic()
                self.commit()
                logger.info("committed on revoke in %.3fs", time.monotonic() - started)
            else:
                self.transactions.abort()
                self.rejoin = self.rejoin or "revoked while outputs were not all produced"
        finally:
            for tracker in partitions:
                self._chains.pop(tracker, None)
            self._count_keys()

    def drop(self, partitions: Sequence[PartitionOffsets]) -> None:
        """On loss: another member may own them already; the open transaction holds their
        outputs, so it can never commit: abort, and rejoin to restore the rest."""
        super().drop(partitions)
        if partitions:
            self.rejoin = "partitions lost (the session expired)"
            self.transactions.abort()

    def fail(self) -> None:
        super().fail()
        self.transactions.doom("an aggregation pass failed halfway")
