"""The Kafka source stage: a consumer-group member that emits only what downstream demanded.

Consumed messages wait in one FIFO (per-partition order is kept) holding at most the outstanding
downstream demand plus ``prefetch``. The source only takes from librdkafka what fits; when the
FIFO is full (downstream stopped asking) every assigned partition is paused, and resumed once
the FIFO has half its room back, so a slow downstream slows consumption instead of growing
memory. The consumer is polled on every pass, even with every partition paused, so the member
stays in its group.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.errors import KafkaClientError
from telemetry.kafka._offsets import Drained, PartitionOffsets
from telemetry.kafka._records import Record
from telemetry.metrics import KafkaMetrics
from telemetry.stages import Source, StopBudget, Supervision

logger = logging.getLogger("telemetry.kafka")

PartitionKey = tuple[str, int]
# Called on the pipeline thread when partitions are assigned or revoked (aggregation stages
# create and close their per-partition state there).
PartitionListener = Callable[[Sequence[PartitionOffsets]], None]

METADATA_TIMEOUT_S = 5.0
"""Longest wait for a topic's metadata at an assignment (for its partition count)."""
CLOSE_TIMEOUT_S = 10.0
"""Longest wait for the final commit and the group leave at stop (within the stop budget)."""


class KafkaSource(Source[Record]):
    """Consume ``topics`` in a consumer group and emit :class:`Record` batches on demand."""

    def __init__(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        topics: Sequence[str],
        prefetch: int = 2_000,
        poll_batch: int = 5_000,
        commit_interval: float = 5.0,
        revoke_timeout: float = 10.0,
        metrics: KafkaMetrics | None = None,
        supervision: Supervision | None = None,
        buffer_size: int = 10_000,
        stop_budget: StopBudget | None = None,
        commits: bool = True,
    ) -> None:
        super().__init__(name=name, buffer_size=buffer_size, supervision=supervision)
        if prefetch < 1 or poll_batch < 1:
            raise ValueError("prefetch and poll_batch must be >= 1")
        if "group.id" not in config:
            raise ValueError("the Kafka source needs a consumer group: set group.id")
        self._config = {
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "earliest",
            # Small messages in a backlog: librdkafka's defaults back off a whole second when
            # its local queue is full, which caps throughput; keep fetching instead.
            "fetch.queue.backoff.ms": 1,
            # A live stream: with fetch.min.bytes=1 the broker answers every fetch as soon as one
            # record lands, a storm of tiny fetches that costs broker and processor CPU (and so
            # alert latency) on a shared host. Let a fetch gather 100 kB or wait 5 ms, whichever
            # comes first; a backlog fills it at once, so throughput is unchanged.
            "fetch.wait.max.ms": 5,
            "fetch.min.bytes": 100_000,
            # Per-partition consumer lag comes from librdkafka's statistics.
            "statistics.interval.ms": 5_000,
            # End-of-partition events tell a caught-up partition (idle: its clock may advance)
            # from one merely waiting for its next fetch.
            "enable.partition.eof": True,
            **config,
            "stats_cb": self._on_stats,
            # Results of asynchronous commits: a failed one is counted and made again.
            "on_commit": self._on_commit,
            # Connection failures: a partition whose broker is down must not look idle.
            "error_cb": self._on_client_error,
            # Offsets are ours to commit, only once the work they cover is done.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        self._read_committed = self._config.get("isolation.level") == "read_committed"
        self.topics = list(topics)
        self._multi_topic = len(self.topics) > 1 or any(t.startswith("^") for t in self.topics)
        self.prefetch = prefetch
        self.poll_batch = poll_batch
        self.commit_interval = commit_interval
        self.revoke_timeout = revoke_timeout
        self.stop_budget = stop_budget if stop_budget is not None else StopBudget()
        # Exactly-once: offsets are committed by the transaction (sent with it), never here.
        self.commits = commits
        # Exactly-once: librdkafka is polled (rebalance callbacks run there) only while this
        # holds, so a revoke always finds every output of the input applied so far produced.
        self.consume_when: Callable[[], bool] | None = None
        # Shared with the pipeline's sink (one set per registry); a private one when None.
        self.metrics = metrics if metrics is not None else KafkaMetrics(CollectorRegistry())
        self.consumer: Consumer | None = None
        self.partitions: dict[PartitionKey, PartitionOffsets] = {}
        self.assign_listeners: list[PartitionListener] = []
        # Called with the revoked partitions' trackers; must finish or abandon their in-flight
        # work within the given timeout (the sink flushes its deliveries there).
        # The third argument, ``abandon``, is True for lost partitions: another member may own
        # them already, so nothing may be written or committed for them.
        self.revoke_listeners: list[Callable[[Sequence[PartitionOffsets], float, bool], None]] = []
        self._fifo: deque[Message] = deque()
        self._paused: set[PartitionKey] = set()
        self._drained = Drained()
        self._demand = 0
        self._next_commit = 0.0
        # An assignment (possibly empty) was received since start, and not lost since.
        self.joined = False
        # Set by stop(): the close that follows has nothing left to revoke.
        self._closing = False
        # Partition count of each consumed topic, from the statistics (a change is logged).
        self.topic_partitions: dict[str, int] = {}
        self._recount: set[str] = set()  # topics assigned since the last poll
        # Fetch requests sent to each broker, as of the first statistics after the partitions'
        # ends were last forgotten (None: not taken yet). The statistics' high watermark is
        # news only from a fetch answered after that (see _confirm_end).
        self._fetches_since: dict[int, int] | None = {}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.consumer = Consumer(self._config, logger=logger)
        self.consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        self._next_commit = time.monotonic() + self.commit_interval
        self._closing = False
        self.stop_budget.reset()
        self.metrics.init_source(self.name)
        self.metrics.up.labels(self.name).set(1)

    def stop(self) -> None:
        """Revoke every partition here, on the pipeline's thread (the listeners deliver and
        write what they can within the stop budget), then commit and leave the group on a
        thread of their own: with the broker gone either can wait a minute, so past the
        budget the member goes without them (the group reclaims its partitions after
        session.timeout.ms, and the uncommitted input is replayed)."""
        consumer = self.consumer
        if consumer is None:
            return
        self._fifo.clear()
        trackers = self._forget([TopicPartition(t, p) for t, p in self.partitions])
        try:
            for listener in self.revoke_listeners if trackers else ():
                listener(trackers, self.stop_budget.remaining(self.revoke_timeout), False)
        except Exception:
            # Still leave the group: a consumer left open stays a member (its heartbeats go
            # on) and holds its partitions from everyone until max.poll.interval.ms.
            self._closing = True
            self._close_quietly(consumer)
            raise
        self._closing = True  # close's own revoke callback has nothing left to do
        offsets = self._offsets(trackers)
        started = time.monotonic()
        if not self.stop_budget.run(
            functools.partial(self._commit_and_close, consumer, offsets, trackers),
            CLOSE_TIMEOUT_S,
            name=f"{self.name}-close",
        ):
            logger.warning(
                "the final commit and group leave did not finish within %.1fs (is the broker "
                "reachable?); stopping without them: uncommitted input is replayed",
                time.monotonic() - started,
            )
        self._left()

    def _close_quietly(self, consumer: Consumer) -> None:
        """Leave the group, committing nothing (within the stop budget)."""
        self.stop_budget.run(consumer.close, CLOSE_TIMEOUT_S, name=f"{self.name}-close")
        self._left()

    def _left(self) -> None:
        self.consumer = None
        self.joined = False
        self.metrics.up.labels(self.name).set(0)
        self.metrics.assigned.labels(self.name).set(0)
        self.metrics.paused.labels(self.name).set(0)

    # -- the stage protocol -----------------------------------------------------------------

    def on_demand(self, demand: int) -> None:
        self._demand = demand

    def pull(self, demand: int) -> list[Record]:
        fifo = self._fifo
        n = min(demand, len(fifo))
        if n == 0:
            return []
        popleft = fifo.popleft
        taken = [popleft() for _ in range(n)]
        records: list[Record] = []
        append = records.append
        new = tuple.__new__
        partitions = self.partitions
        tracker: PartitionOffsets | None = None
        offsets: list[int] = []
        multi = self._multi_topic
        last_partition: int | None = -1
        last_topic: str | None = None
        # Consumed batches come in runs of one partition: look the tracker up once per run
        # (and with one subscribed topic, compare partitions only).
        for message in taken:
            partition = message.partition()
            if partition != last_partition or (multi and message.topic() != last_topic):
                if offsets and tracker is not None:
                    tracker.emit(offsets)
                    offsets = []
                last_partition, last_topic = partition, message.topic()
                tracker = partitions.get((last_topic, partition))  # type: ignore[arg-type]
            if tracker is None:  # revoked since it was consumed: never handed on
                continue
            offset: int = message.offset()  # type: ignore[assignment]
            offsets.append(offset)
            append(new(Record, (message, tracker, offset)))
        if offsets and tracker is not None:
            tracker.emit(offsets)
        return records

    def wait(self, timeout: float) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        room = self._capacity() - len(self._fifo)
        now = time.monotonic()
        if room <= 0:
            self._pause_all()
        elif self._paused and room * 2 >= self._capacity():
            self._resume_all()
        if self.consume_when is not None and not self.consume_when():
            return  # a pass or two, until downstream has produced what it holds
        # Never skip the poll, even when everything is paused: it keeps the member in its group
        # and serves rebalances. With no room it asks for one message: paused partitions
        # deliver none (pausing drops librdkafka's prefetch of them).
        limit = max(1, min(room, self.poll_batch))
        messages = consume_arrived(consumer, limit, timeout)
        if len(messages) < limit:
            self._drained.at = time.monotonic()
        if messages:
            self._accept(messages)
        if self._recount:
            topics, self._recount = self._recount, set()
            self._count_assigned(consumer, topics)
        self._commit_if_due(now)

    def _commit_if_due(self, now: float) -> None:
        if now >= self._next_commit:
            self.commit(asynchronous=True)

    def in_flight(self) -> int:
        return 0  # buffered input is not in flight: nothing is lost by not waiting for it

    # -- buffering and pause/resume ---------------------------------------------------------

    def _capacity(self) -> int:
        # What downstream demanded plus the bounded prefetch. librdkafka prefetches too, bounded
        # in bytes by queued.max.messages.kbytes; pausing releases that as well.
        return self._demand + self.prefetch

    def _accept(self, messages: list[Message]) -> None:
        fifo = self._fifo
        partitions = self.partitions
        multi = self._multi_topic
        last_partition: int | None = -1
        last_topic: str | None = None
        tracker: PartitionOffsets | None = None
        previous = -1
        before = len(fifo)
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_error(error, message)
                continue
            fifo.append(message)
            partition = message.partition()
            if partition != last_partition or (multi and message.topic() != last_topic):
                if tracker is not None:
                    tracker.fetched_until = previous + 1
                last_partition, last_topic = partition, message.topic()
                tracker = partitions.get((last_topic, partition))  # type: ignore[arg-type]
            previous = message.offset()  # type: ignore[assignment]
        if tracker is not None:
            tracker.fetched_until = previous + 1
        self.metrics.consumed.labels(self.name).inc(len(fifo) - before)

    def _pause_all(self) -> None:
        consumer = self.consumer
        todo = [key for key in self.partitions if key not in self._paused]
        if consumer is None or not todo:
            return
        consumer.pause([TopicPartition(t, p) for t, p in todo])
        self._paused.update(todo)
        for key in todo:
            self.partitions[key].paused = True
        self.metrics.pauses.labels(self.name).inc(len(todo))
        self.metrics.paused.labels(self.name).set(len(self._paused))

    def _resume_all(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        consumer.resume([TopicPartition(t, p) for t, p in self._paused])
        for key in self._paused:
            tracker = self.partitions.get(key)
            if tracker is not None:
                tracker.paused = False
        self._paused.clear()
        self.metrics.paused.labels(self.name).set(0)

    def buffered(self) -> int:
        """Messages consumed but not yet handed downstream."""
        return len(self._fifo)

    def paused_partitions(self) -> set[PartitionKey]:
        return set(self._paused)

    # -- commits ----------------------------------------------------------------------------

    def commit(
        self, *, asynchronous: bool, only: Sequence[PartitionOffsets] | None = None
    ) -> list[TopicPartition]:
        """Commit every partition's first not-yet-done offset that moved since the last commit."""
        consumer = self.consumer
        if consumer is None or not self.commits:
            return []
        self._next_commit = time.monotonic() + self.commit_interval
        trackers = list(self.partitions.values()) if only is None else only
        offsets = self._offsets(trackers)
        if not offsets:
            return []
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            self.metrics.commit_failures.labels(self.name).inc()
            if isinstance(error, KafkaError) and error.code() == KafkaError._NO_OFFSET:
                return []
            logger.warning("commit of %d partition(s) failed: %s", len(offsets), exc)
            return []
        by_key = {(t.topic, t.partition): t.offset for t in offsets}
        for tracker in trackers:
            committed = by_key.get((tracker.topic, tracker.partition))
            if committed is not None:
                tracker.committed = committed
        self.metrics.commits.labels(self.name).inc()
        return offsets

    def group_metadata(self) -> object:
        """The consumer's group metadata, sent with a transaction's offsets (KIP-447)."""
        if self.consumer is None:
            raise KafkaClientError("the consumer is not started")
        return self.consumer.consumer_group_metadata()

    @staticmethod
    def _offsets(trackers: Sequence[PartitionOffsets]) -> list[TopicPartition]:
        offsets: list[TopicPartition] = []
        for tracker in trackers:
            offset = tracker.pending_commit()
            if offset is not None:
                offsets.append(TopicPartition(tracker.topic, tracker.partition, offset))
        return offsets

    def _commit_and_close(
        self,
        consumer: Consumer,
        offsets: list[TopicPartition],
        trackers: Sequence[PartitionOffsets],
    ) -> None:
        """The last synchronous commit, then the group leave (on the close thread)."""
        try:
            if offsets and self.commits:
                consumer.commit(offsets=offsets, asynchronous=False)
                by_key = {(t.topic, t.partition): t.offset for t in offsets}
                for tracker in trackers:
                    committed = by_key.get((tracker.topic, tracker.partition))
                    if committed is not None:
                        tracker.committed = committed
                self.metrics.commits.labels(self.name).inc()
        except KafkaException as exc:
            self.metrics.commit_failures.labels(self.name).inc()
            logger.warning("the final commit of %d partition(s) failed: %s", len(offsets), exc)
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as exc:
            logger.warning("closing the consumer failed: %s", exc)

    # -- rebalances ---------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.joined = True
        self._refetch()
        added = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            tracker = PartitionOffsets(tp.topic, tp.partition, self._drained)
            self.partitions[key] = tracker
            added.append(tracker)
        self.metrics.rebalances.labels(self.name, "assign").inc()
        self.metrics.assigned.labels(self.name).set(len(self.partitions))
        # Counted after the poll returns: a call on the consumer from inside its own callback
        # breaks confluent-kafka's per-call state (an assertion aborts the process).
        self._recount.update(tp.topic for tp in partitions)
        logger.info("assigned %s", _names(partitions))
        for listener in self.assign_listeners:
            listener(added)
        # A listener that restored state says where input resumes (``start``); the others
        # resume at the committed offset. Assigning here replaces the client's own assign.
        consumer.incremental_assign(
            [
                TopicPartition(t.topic, t.partition, t.start)
                if t.start is not None
                else TopicPartition(t.topic, t.partition)
                for t in added
            ]
        )

    def _count_assigned(self, consumer: Consumer, topics: set[str]) -> None:
        """Partition counts after an assignment: added partitions cause one, so a change shows
        at once (the statistics would tell within their interval)."""
        for topic in topics:
            try:
                metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
            except KafkaException:
                continue  # the statistics will tell
            found = metadata.topics.get(topic)
            if found is not None and found.error is None:
                self._count_partitions(topic, len(found.partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        del consumer
        if self._closing:
            return  # stop() revoked them already, on the pipeline's thread
        started = time.monotonic()
        trackers = self._forget(partitions)
        self._refetch()
        for listener in self.revoke_listeners:
            listener(trackers, self.revoke_timeout, False)
        # Whatever the listeners finished is committed; the rest is replayed by the next owner.
        self.commit(asynchronous=False, only=trackers)
        for tracker in trackers:
            tracker.revoked = True
        elapsed = time.monotonic() - started
        self.metrics.revoke_seconds.labels(self.name).observe(elapsed)
        self.metrics.rebalances.labels(self.name, "revoke").inc()
        logger.info("revoked %s in %.3fs", _names(partitions), elapsed)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        del consumer
        if self._closing:
            return
        # Lost, not revoked: another member may own them already, so write and commit nothing;
        # the listeners drop their state and outputs (the revoke path, in abandon mode).
        trackers = self._forget(partitions)
        self._refetch()
        for tracker in trackers:
            tracker.revoked = True
        for listener in self.revoke_listeners:
            listener(trackers, 0.0, True)
        # Not a member in good standing until the group assigns again: /readyz says so.
        self.joined = False
        self.metrics.rebalances.labels(self.name, "lost").inc()
        logger.warning("lost %s", _names(partitions))

    def _refetch(self) -> None:
        """A rebalance restarts librdkafka's fetchers, also of the partitions kept, which may
        then fetch nothing for a while: their last end-of-partition no longer says they are
        quiet. librdkafka reports the end again once fetching resumes."""
        self._forget_ends()

    def _forget_ends(self) -> None:
        for tracker in self.partitions.values():
            tracker.end_offset = None
        self._fetches_since = None

    def _forget(self, partitions: list[TopicPartition]) -> list[PartitionOffsets]:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        trackers = [self.partitions.pop(key) for key in keys if key in self.partitions]
        if self._paused & keys:
            self._paused -= keys
            self.metrics.paused.labels(self.name).set(len(self._paused))
        # Buffered messages of these partitions were never handed on: drop them; the next
        # owner starts from the committed offset.
        if self._fifo:
            self._fifo = deque(m for m in self._fifo if (m.topic(), m.partition()) not in keys)
        self.metrics.assigned.labels(self.name).set(len(self.partitions))
        return trackers

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """A commit's result (served by the poll loop). A failed partition is marked not
        committed, so the next commit interval commits it again."""
        failed = list(partitions) if error is not None else [p for p in partitions if p.error]
        if error is not None and error.code() == KafkaError._NO_OFFSET:
            return  # nothing was due
        if not failed:
            return
        self.metrics.commit_failures.labels(self.name).inc()
        for tp in failed:
            tracker = self.partitions.get((tp.topic, tp.partition))
            if tracker is not None and tracker.committed == tp.offset:
                tracker.committed = None
        reason = error if error is not None else failed[0].error
        logger.warning(
            "commit of %s failed (%s); committing again at the next interval",
            _names(failed),
            reason.str() if isinstance(reason, KafkaError) else reason,
        )

    def _on_client_error(self, error: KafkaError) -> None:
        """A broker connection failed: until the brokers are up again (statistics) or a
        partition's end is reached anew, no partition counts as caught up, so the idle clock
        closes no window and fires no silence alert for data it simply could not fetch."""
        if error.code() in _UNREACHABLE:
            for tracker in self.partitions.values():
                tracker.reachable = False
            self._drained.outage()
            # Fetching resumes some time after the brokers are back: an end from before says
            # nothing until reached anew (or confirmed by the statistics).
            self._forget_ends()
        logger.warning("consumer: %s", error.str())

    def _on_stats(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
        except ValueError:
            return
        brokers = [b for b in stats.get("brokers", {}).values() if b.get("nodeid", -1) >= 0]
        fetches, since = self._note_brokers(brokers)
        gauge = self.metrics.consumer_lag
        for topic, topic_stats in stats.get("topics", {}).items():
            # Every partition of a consumed topic is in the statistics (-1 is librdkafka's).
            self._count_partitions(
                topic, sum(1 for p in topic_stats.get("partitions", {}) if p != "-1")
            )
            for partition, part in topic_stats.get("partitions", {}).items():
                if partition == "-1":
                    continue
                owned = self.partitions.get((topic, int(partition)))
                if owned is not None and owned.end_offset is None:
                    self._confirm_end(owned, part, fetches, since)
                lag = part.get("consumer_lag", -1)
                if lag < 0 and owned is not None and owned.committed is not None:
                    # Exactly-once commits through the transaction, which librdkafka's own
                    # lag does not see: the end (last stable offset) minus what we committed.
                    end = part.get("ls_offset", -1)
                    lag = end - owned.committed if end >= 0 else -1
                if lag < 0:
                    continue
                if owned is not None:
                    gauge.labels(topic, partition).set(lag)
                else:
                    with contextlib.suppress(KeyError):
                        gauge.remove(topic, partition)

    def _note_brokers(self, brokers: list[dict[str, Any]]) -> tuple[dict[int, int], dict[int, int]]:
        """Reachability from the brokers' states; returns the fetch requests sent to each
        broker, now and as of when the partitions' ends were last forgotten."""
        if brokers and all(b.get("state") == "UP" for b in brokers):
            if not all(t.reachable for t in self.partitions.values()):
                self._drained.outage()  # just back: the grace runs from here
            for tracker in self.partitions.values():
                tracker.reachable = True
        fetches = {b["nodeid"]: b.get("req", {}).get("Fetch", 0) for b in brokers}
        if self._fetches_since is None:
            self._fetches_since = fetches
        return fetches, self._fetches_since

    def _confirm_end(
        self,
        tracker: PartitionOffsets,
        part: dict[str, Any],
        fetches: dict[int, int],
        since: dict[int, int],
    ) -> None:
        """librdkafka reports a partition's end once per offset: after a reconnect or a
        rebalance a quiet partition may never report it again. The statistics show where the
        partition ends, but that high watermark is only as fresh as the last fetch answered:
        right after a reconnect it is the one from before the outage, while the producers'
        backlog is arriving. So it counts only when the partition's leader was sent two fetch
        requests since the ends were forgotten (it sends the next only once the one before
        was answered); then, with fetching active and everything up to there fetched, the
        partition is at its end (so its idle clock can run again)."""
        if part.get("fetch_state") != "active":
            return
        leader = part.get("leader", -1)
        sent = fetches.get(leader)
        if sent is None:
            return
        before = since.setdefault(leader, sent)  # a broker that was not there at the time
        if sent < before + 2:
            return
        key = "ls_offset" if self._read_committed else "hi_offset"
        end = part.get(key, -1)
        fetched = tracker.fetched_until
        if isinstance(end, int) and end >= 0 and fetched is not None and fetched >= end:
            tracker.end_offset = fetched

    def _count_partitions(self, topic: str, count: int) -> None:
        """Note a consumed topic's partition count (from an assignment or the statistics);
        a change is logged loudly."""
        if not count:
            return
        before = self.topic_partitions.get(topic)
        self.topic_partitions[topic] = count
        self.metrics.topic_partitions.labels(topic).set(count)
        if before is not None and before != count:
            logger.error(
                "the partition count of %s changed from %d to %d: keys now hash to other "
                "partitions, so a device's readings may land in a partition that does not "
                "hold its open windows; those windows can be published twice, each with part "
                "of the readings. Keyed input topics should keep their partition count "
                "(to grow, move to a new topic and group)",
                topic,
                before,
                count,
            )

    def _on_error(self, error: KafkaError, message: Message) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            tracker = self.partitions.get((message.topic(), message.partition()))  # type: ignore[arg-type]
            if tracker is not None:
                tracker.end_offset = message.offset()
                tracker.reachable = True
            return
        if error.fatal():
            raise KafkaClientError(
                f"fatal consumer error: {error.str()}",
                topic=message.topic(),
                partition=message.partition(),
            )
        logger.warning("consumer error (librdkafka retries): %s", error.str())


_UNREACHABLE = frozenset((KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE))


def consume_arrived(consumer: Consumer, limit: int, timeout: float) -> list[Message]:
    """Up to ``limit`` messages, waiting at most ``timeout`` for the first one only.

    ``Consumer.consume`` waits until it has ``limit`` messages or the timeout expired, which
    would hold a trickle of readings back for the whole idle slice: take what is queued, and
    when nothing is, wake on the first arrival and take whatever came with it.
    """
    messages = consumer.consume(num_messages=limit, timeout=0)
    if messages or timeout <= 0:
        return messages
    messages = consumer.consume(num_messages=1, timeout=timeout)
    if messages and limit > 1:
        messages.extend(consumer.consume(num_messages=limit - 1, timeout=0))
    return messages


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
