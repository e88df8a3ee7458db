"""Kafka I/O of the state changelog: write a partition's records, read a partition back.

The changelog is a compacted topic with the readings topic's partition count; partition p holds
the state of readings partition p. This module only moves bytes: what the records mean is
:mod:`telemetry.aggregate._snapshot`'s business.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ClusterMetadata,
    NewPartitions,
    NewTopic,
)

from telemetry.errors import ConfigError, RejoinError, StateError
from telemetry.kafka._records import Headers
from telemetry.kafka._transactions import Transactions

_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)

logger = logging.getLogger("telemetry.state")

ChangelogRecord = tuple[bytes, bytes | None, Headers | None]
"""``(key, value, headers)``; a None value is a tombstone."""

CHANGELOG_CONFIG = {"cleanup.policy": "compact", "retention.ms": "-1"}
"""Compacted and never deleted by age: the changelog is the state, latest record per key."""

WRITE_BUDGET = 2_000
"""Changelog records produced per poll at most (a few milliseconds)."""

Latest = dict[bytes, tuple[bytes | None, Headers | None]]
"""The latest value (None: a tombstone) and headers of every key of one partition."""


class ChangelogWriter:
    """An idempotent producer for changelog records: order per partition is kept and a retry
    never duplicates, so a crash leaves each partition with a prefix of what was written.

    :meth:`start` creates the topic when it is missing (compacted, with the partition count of
    ``readings_topic``), as Kafka Streams creates its internal topics, and refuses a changelog
    whose partition count differs: partition p's state must live in changelog partition p.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        topic: str,
        *,
        readings_topic: str,
        replication_factor: int = 1,
        timeout: float = 30.0,
        transactions: Transactions | None = None,
    ) -> None:
        self.topic = topic
        self.transactions = transactions
        self.readings_topic = readings_topic
        self.replication_factor = replication_factor
        self.timeout = timeout
        self._client = dict(config)
        self._config = {
            "linger.ms": 5,
            "compression.type": "lz4",
            **config,
            "enable.idempotence": True,
            "acks": "all",
        }
        self.producer: Producer | None = None
        # Written and not yet produced: (partition, records, next index, left to deliver, done).
        self._queue: deque[
            tuple[int, list[ChangelogRecord], int, list[int], Callable[[], None]]
        ] = deque()
        self.records_total = 0
        self.bytes_total = 0
        self.partitions = 0  # of the changelog, known since start()

    def start(self) -> None:
        if self.producer is None:
            self._ensure()
            if self.transactions is not None:  # exactly-once: the one shared producer
                self.producer = self.transactions.start()
            else:
                self.producer = Producer(self._config, logger=logger)

    def _ensure(self) -> None:
        admin_config: dict[str, Any] = {**self._client, "logger": logger}
        self.partitions = ensure_changelog(
            AdminClient(admin_config),
            self.topic,
            readings_topic=self.readings_topic,
            replication_factor=self.replication_factor,
            timeout=self.timeout,
        )

    def cover(self, partitions: Sequence[int]) -> None:
        """Make sure changelog partitions exist for these readings partitions: the readings
        topic may have grown since :meth:`start` (the producer then learns of them)."""
        if partitions and max(partitions) >= self.partitions:
            self._ensure()
            if self.producer is not None:
                self.producer.list_topics(self.topic, timeout=self.timeout)

    def stop(self, timeout: float) -> None:
        if self.producer is not None:
            if self.transactions is None:  # a transaction's records end with its commit
                self.flush(timeout)
            self.producer = None

    def write_now(self, partition: int, records: Sequence[ChangelogRecord]) -> None:
        """Produce ``records`` for ``partition`` now, all of them (into the open transaction
        of exactly-once mode, which commits them)."""
        self.write(partition, records, _nothing)
        self._pump(None)

    def write(
        self, partition: int, records: Sequence[ChangelogRecord], done: Callable[[], None]
    ) -> None:
        """Queue ``records`` for ``partition``, in order; ``done()`` once all are delivered.

        They are produced a few thousand per :meth:`poll` (a checkpoint of many keys must not
        stall a pass), in the order written. A record that cannot be delivered (after
        librdkafka's own retries) raises StateError from :meth:`poll`: the state it carried
        would otherwise be lost silently.
        """
        if self.producer is None:
            raise StateError("the changelog writer is not started")
        size = sum(len(key) + (len(value) if value is not None else 0) for key, value, _ in records)
        self.records_total += len(records)
        self.bytes_total += size
        if not records:
            done()
            return
        self._queue.append((partition, list(records), 0, [len(records)], done))

    def _pump(self, budget: int | None) -> None:
        """Produce queued records, at most ``budget`` of them (None: all)."""
        producer = self.producer
        queue = self._queue
        if producer is None:
            return
        while queue and (budget is None or budget > 0):
            partition, records, start, remaining, done = queue[0]
            stop = len(records) if budget is None else min(len(records), start + budget)
            report = self._report(partition, remaining, done)
            for i in range(start, stop):
                key, value, headers = records[i]
                while True:
                    try:
                        producer.produce(
                            self.topic, value, key, partition, on_delivery=report, headers=headers
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)  # a full local queue: let deliveries free room
            if budget is not None:
                budget -= stop - start
            if stop == len(records):
                queue.popleft()
            else:
                queue[0] = (partition, records, stop, remaining, done)

    def _report(
        self, partition: int, remaining: list[int], done: Callable[[], None]
    ) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            del message
            if error is not None:
                what = f"changelog write to {self.topic}[{partition}] failed: {error.str()}"
                if self.transactions is None:
                    raise StateError(what)
                # Exactly-once: the transaction holding it can never commit.
                self.transactions.doom(what)
                if error.code() not in _PURGED:  # a purge is our own abort's: rejoining already
                    raise RejoinError(what)
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                done()

        return report

    def poll(self, timeout: float = 0.0) -> None:
        if self.producer is not None:
            self._pump(WRITE_BUDGET)
            self.producer.poll(timeout)

    def flush(self, timeout: float) -> bool:
        """Deliver everything written; True when nothing is left in flight."""
        if self.producer is None:
            return True
        self._pump(None)
        return self.producer.flush(timeout) == 0


def _nothing() -> None:
    pass


def _metadata_with(admin: AdminClient, topic: str, timeout: float) -> ClusterMetadata:
    """The cluster metadata, once it shows ``topic`` (or after ``timeout``): a topic created
    just before the processor starts (a deploy job, a test) may not be in the broker's metadata
    yet, most of all on a busy broker."""
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout)
        found = metadata.topics.get(topic)
        if (found is not None and found.error is None) or time.monotonic() >= deadline:
            return metadata
        time.sleep(0.25)


def ensure_changelog(
    admin: AdminClient,
    topic: str,
    *,
    readings_topic: str,
    replication_factor: int,
    timeout: float,
) -> int:
    """Create the changelog ``topic`` when missing, or grow it to ``readings_topic``'s
    partition count (readings partitions were added); returns that count. ConfigError when the
    changelog has more partitions: it belongs to some other input."""
    try:
        metadata = _metadata_with(admin, readings_topic, timeout)
        readings = metadata.topics.get(readings_topic)
        if readings is None or readings.error is not None:
            raise StateError(
                f"the readings topic {readings_topic} does not exist: create it with "
                "`telemetry topics --config ...`"
            )
        want = len(readings.partitions)
        changelog = metadata.topics.get(topic)
        if changelog is None or changelog.error is not None:
            new = NewTopic(
                topic,
                num_partitions=want,
                replication_factor=replication_factor,
                config=CHANGELOG_CONFIG,
            )
            future = admin.create_topics([new], operation_timeout=timeout)[topic]
            try:
                future.result(timeout=timeout + 5)
                logger.info("created the changelog %s: %d partitions, compacted", topic, want)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):  # another member was first
                    raise
            return want
        have = len(changelog.partitions)
        if have < want:
            # Partition p's state lives in changelog partition p: the new readings
            # partitions get empty ones (their state starts empty).
            future = admin.create_partitions(
                [NewPartitions(topic, want)], operation_timeout=timeout
            )[topic]
            try:
                future.result(timeout=timeout + 5)
            except KafkaException as exc:
                if "INVALID_PARTITIONS" not in str(exc):  # another member grew it first
                    raise
            logger.warning(
                "grew the changelog %s from %d to %d partitions to follow %s",
                topic,
                have,
                want,
                readings_topic,
            )
    except KafkaException as exc:
        raise StateError(f"cannot prepare the changelog topic {topic}: {exc}") from None
    if have > want:
        raise ConfigError(
            f"topics.changelog: {topic} has {have} partitions but {readings_topic} has "
            f"{want}; partition p's state must live in changelog partition p (recreate the "
            "changelog, or point topics.changelog at a new topic)"
        )
    return want


def read_changelog(
    config: Mapping[str, Any], topic: str, partitions: Sequence[int], timeout: float
) -> dict[int, Latest]:
    """The latest record of every key in each of ``partitions``, read to the partition's end.

    Later records of a key replace earlier ones, as compaction would. Raises StateError when
    a partition cannot be read to its end within ``timeout``.
    """
    latest: dict[int, Latest] = {p: {} for p in partitions}
    if not partitions:
        return latest
    consumer = Consumer(
        {
            **config,
            "group.id": f"{topic}.restore",  # never joins or commits: assign() only
            # Exactly-once: records of an aborted (or still open) transaction are not state.
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.queue.backoff.ms": 1,
        },
        logger=logger,
    )
    try:
        deadline = time.monotonic() + timeout
        ends: dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=max(1.0, deadline - time.monotonic())
            )
            if high > low:
                ends[p] = high
        if ends:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
            _read_to_ends(
                consumer,
                topic=topic,
                ends=ends,
                latest=latest,
                deadline=deadline,
                timeout=timeout,
            )
    except KafkaException as exc:
        raise StateError(f"reading the changelog {topic} failed: {exc}") from None
    finally:
        consumer.close()
    return latest


def _read_to_ends(
    consumer: Consumer,
    *,
    topic: str,
    ends: dict[int, int],
    latest: dict[int, Latest],
    deadline: float,
    timeout: float,
) -> None:
    while ends:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StateError(
                f"restoring {topic} partition(s) {sorted(ends)} did not reach the end "
                f"within {timeout:g} s"
            )
        for message in consumer.consume(num_messages=10_000, timeout=min(left, 0.5)):
            p: Any = message.partition()
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(p, None)
                elif error.fatal():
                    raise StateError(f"reading the changelog {topic}[{p}] failed: {error}")
                continue
            key = message.key()
            if key is not None:
                headers: Any = message.headers()  # consumed headers are a list of pairs
                latest[p][bytes(key)] = (message.value(), headers)
            offset: Any = message.offset()
            if offset + 1 >= ends.get(p, 0):
                ends.pop(p, None)
