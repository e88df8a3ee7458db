"""Offset tracking: what may be committed, per assigned partition.

Events of a partition may finish out of order (several aggregation partitions, several output
partitions). A partition's committable offset is the first offset not yet done: the smallest
offset still held, or, when nothing is held, one past the last offset handed downstream.
Holders are the events in flight, the outputs awaiting delivery reports and (later) the open
windows. A tracker is replaced on every (re)assignment, so a late acknowledgement for a revoked
generation never releases a hold of the new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DRAINED_FRESH_S = 0.25
# After a broker outage the devices' producers reconnect on their own back-off (librdkafka's
# reconnect.backoff.max.ms is 10 s by default) and only then send their backlog: until then
# an end reached says nothing about the devices.
RECONNECT_GRACE_S = 10.0
"""How long a poll that emptied librdkafka's queue vouches for it: longer without one (the
pipeline was busy restoring, gated by a transaction, or stalled) and no partition is idle."""


class Drained:
    """When the source last took everything librdkafka had queued (a poll that returned
    less than it asked for), shared by the trackers of its partitions.

    librdkafka fetches in the background; what it fetched since the last poll is known only
    at the next one. So an end-of-partition says a partition is quiet only while polls keep
    finding nothing new for it. Nor does it right after a broker outage (``outage``)."""

    __slots__ = ("at", "quiet_from")

    def __init__(self) -> None:
        self.at = -float("inf")
        self.quiet_from = -float("inf")  # no end counts before this (monotonic)

    def outage(self) -> None:
        """The brokers were unreachable just now: the producers' backlog may be on its way."""
        self.quiet_from = time.monotonic() + RECONNECT_GRACE_S

    def fresh(self) -> bool:
        now = time.monotonic()
        return now - self.at <= DRAINED_FRESH_S and now >= self.quiet_from


class PartitionOffsets:
    """Holds and the committable position of one assigned topic-partition (one generation)."""

    __slots__ = (
        "checkpointed",
        "committed",
        "drained",
        "durable",
        "emitted_until",
        "end_offset",
        "fetched_until",
        "floor",
        "held",
        "partition",
        "paused",
        "reachable",
        "revoked",
        "start",
        "topic",
    )

    def __init__(self, topic: str, partition: int, drained: Drained | None = None) -> None:
        self.topic = topic
        self.partition = partition
        # offset -> number of holders; a dict beats a heap here: the minimum is only needed
        # at commit time, while holds and releases happen per event.
        self.held: dict[int, int] = {}
        self.emitted_until: int | None = None  # one past the last offset handed downstream
        self.committed: int | None = None
        self.fetched_until: int | None = None  # one past the last offset fetched
        self.end_offset: int | None = None  # the partition's end when last reached (EOF)
        self.revoked = False
        # False from a broker connection failure until the source sees the brokers up again
        # or reaches the partition's end anew: a partition it cannot fetch is never idle.
        self.reachable = True
        # A paused partition is not fetched, so whatever it last reached says nothing.
        self.paused = False
        self.drained = drained
        # Holds kept outside this object (the open windows of the partition's aggregation
        # state): returns their smallest offset, or None.
        self.floor: Callable[[], int | None] | None = None
        # With a state changelog the committable offset is the one its last durable checkpoint
        # covers (``durable``) and nothing is held; ``start`` is where a restore resumes input.
        self.checkpointed = False
        self.durable: int | None = None
        self.start: int | None = None

    def emit(self, offsets: list[int]) -> None:
        """Offsets handed downstream, in partition order; each is held until released (with
        a changelog only the position counts: nothing is held)."""
        if self.checkpointed:
            self.emitted_until = offsets[-1] + 1
            return
        held = self.held
        if held and not held.keys().isdisjoint(offsets):
            for offset in offsets:
                held[offset] = held.get(offset, 0) + 1
        else:  # the usual case, fresh offsets: one C-level update
            held.update(dict.fromkeys(offsets, 1))
        self.emitted_until = offsets[-1] + 1

    def hold(self, offset: int) -> None:
        """One more holder of ``offset`` (an extra output, an open window)."""
        if self.checkpointed:
            return
        self.held[offset] = self.held.get(offset, 0) + 1

    def release_all(self, offsets: list[int]) -> None:
        """One holder of each of ``offsets`` is done with it (a batch, in one call)."""
        if self.checkpointed:
            return
        held = self.held
        for offset in offsets:
            remaining = held.get(offset, 0) - 1
            if remaining > 0:
                held[offset] = remaining
            elif remaining == 0:
                del held[offset]

    def release(self, offset: int) -> None:
        """One holder of ``offset`` is done with it."""
        if self.checkpointed:
            return
        held = self.held
        remaining = held.get(offset, 0) - 1
        if remaining > 0:
            held[offset] = remaining
        elif remaining == 0:
            del held[offset]
        elif not self.revoked:
            raise RuntimeError(
                f"{self.topic}[{self.partition}] offset {offset} released more often than held"
            )

    def caught_up(self) -> bool:
        """Everything the partition had when last reached was fetched and handed downstream:
        a quiet partition, not one with a backlog waiting for its next fetch, nor one whose
        source has not looked for a while."""
        end = self.end_offset
        if end is None or not self.reachable or self.paused:
            return False
        if self.drained is not None and not self.drained.fresh():
            return False
        fetched = self.fetched_until
        if fetched is None:
            return True
        return fetched <= end and self.emitted_until is not None and self.emitted_until >= fetched

    def committable(self) -> int | None:
        """The offset to commit (first not yet done), or None before anything was handed on."""
        if self.checkpointed:
            return self.durable
        candidates = [min(self.held)] if self.held else []
        if self.emitted_until is not None:
            candidates.append(self.emitted_until)
        if self.floor is not None:
            floor = self.floor()
            if floor is not None:
                candidates.append(floor)
        return min(candidates) if candidates else None

    def pending_commit(self) -> int | None:
        """The committable offset if it moved past the last commit, else None."""
        offset = self.committable()
        if offset is None or (self.committed is not None and offset <= self.committed):
            return None
        return offset

    def in_flight(self) -> int:
        return len(self.held)

    def __repr__(self) -> str:
        return (
            f"PartitionOffsets({self.topic}[{self.partition}], committable={self.committable()}, "
            f"held={len(self.held)}, revoked={self.revoked})"
        )
