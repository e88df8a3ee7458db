"""Dispatchers: how a producer's output buffer is handed to its subscribers.

A dispatcher never gives a subscription more than its outstanding demand. ``wanted()`` tells the
producer how many more events downstream could take right now beyond what is already buffered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import Any

from telemetry.stages._subscription import Batches, Subscription


class Dispatcher(ABC):
    """Output side of one producer: its buffer and the routing to subscribers."""

    def __init__(self) -> None:
        self._owner: str | None = None

    def bind(self, owner: str) -> None:
        if self._owner is not None and self._owner != owner:
            raise ValueError(f"dispatcher already belongs to stage {self._owner!r}")
        self._owner = owner

    @abstractmethod
    def subscribe(self, sub: Subscription) -> None: ...

    @property
    @abstractmethod
    def buffered(self) -> int:
        """Events held in the output buffer."""

    @abstractmethod
    def wanted(self) -> int:
        """Events downstream can take now, net of what is buffered for it (>= 0)."""

    @abstractmethod
    def push(self, events: list[Any]) -> None:
        """Add events to the output buffer."""

    @abstractmethod
    def dispatch(self) -> int:
        """Move buffered events to subscriber inboxes within their demand; return how many."""


class _SharedBufferDispatcher(Dispatcher):
    """One output buffer for all subscribers (demand and broadcast dispatchers)."""

    def __init__(self) -> None:
        super().__init__()
        self._subs: list[Subscription] = []
        self._buf = Batches()

    def subscribe(self, sub: Subscription) -> None:
        if sub.partition is not None:
            raise ValueError("partition= is only valid for a PartitionDispatcher producer")
        self._subs.append(sub)

    @property
    def buffered(self) -> int:
        return self._buf.count

    def push(self, events: list[Any]) -> None:
        self._buf.push(events)


class DemandDispatcher(_SharedBufferDispatcher):
    """Each batch goes to the subscriber with the most outstanding demand (load balancing)."""

    def wanted(self) -> int:
        total = 0
        for sub in self._subs:
            total += sub.demand
        return max(0, total - self._buf.count)

    def dispatch(self) -> int:
        buf = self._buf
        subs = self._subs
        moved = 0
        while buf.count and subs:
            best = subs[0]
            for sub in subs:
                if sub.demand > best.demand:
                    best = sub
            n = min(best.demand, buf.count)
            if n <= 0:
                break
            best.deliver(buf.take(n))
            moved += n
        return moved


class BroadcastDispatcher(_SharedBufferDispatcher):
    """Every subscriber gets every event; emits only what the least-demanding one can take.

    Each subscriber gets its own copy of the batch list (the events themselves are shared), so a
    consumer that mutates its batch list cannot disturb the others.
    """

    def _min_demand(self) -> int:
        return min((sub.demand for sub in self._subs), default=0)

    def wanted(self) -> int:
        return max(0, self._min_demand() - self._buf.count)

    def dispatch(self) -> int:
        n = min(self._min_demand(), self._buf.count)
        if n <= 0:
            return 0
        batch = self._buf.take(n)
        first, *rest = self._subs
        for sub in rest:
            sub.deliver(list(batch))
        first.deliver(batch)
        return n


class PartitionDispatcher(Dispatcher):
    """Routes each event to partition ``hash(key(event)) % partitions``.

    Each partition has exactly one subscriber (``subscribe(..., partition=i)``) and its own FIFO,
    so per-key order is preserved and a key always lands in the same partition. ``hash`` defaults
    to the builtin: stable within a process (``str`` hashing is salted per process, which is fine
    while partition state is rebuilt by replay; pass a key that is already an int, e.g. the Kafka
    partition, or a custom ``hash`` for cross-process stability).
    """

    def __init__(
        self,
        *,
        partitions: int,
        key: Callable[[Any], Hashable],
        hash: Callable[[Any], int] = hash,  # noqa: A002 - the natural name for the knob
    ) -> None:
        super().__init__()
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.partitions = partitions
        self._key = key
        self._hash = hash
        self._subs: list[Subscription | None] = [None] * partitions
        self._bufs = [Batches() for _ in range(partitions)]
        self._count = 0

    def subscribe(self, sub: Subscription) -> None:
        p = sub.partition
        if p is None or not 0 <= p < self.partitions:
            raise ValueError(
                f"subscription to a PartitionDispatcher needs 0 <= partition < "
                f"{self.partitions}, got {p}"
            )
        if self._subs[p] is not None:
            raise ValueError(f"partition {p} already has a subscriber")
        self._subs[p] = sub

    @property
    def buffered(self) -> int:
        return self._count

    def wanted(self) -> int:
        total = 0
        for sub, buf in zip(self._subs, self._bufs, strict=True):
            if sub is not None and sub.demand > buf.count:
                total += sub.demand - buf.count
        return total

    def push(self, events: list[Any]) -> None:
        if not events:
            return
        self._count += len(events)
        n = self.partitions
        if n == 1:
            self._bufs[0].push(events)
            return
        parts: list[list[Any]] = [[] for _ in range(n)]
        appends = [part.append for part in parts]
        key = self._key
        h = self._hash
        # The one per-event loop of the engine: keep it to a key call, a hash and an append.
        for event in events:
            appends[h(key(event)) % n](event)
        for buf, part in zip(self._bufs, parts, strict=True):
            buf.push(part)

    def dispatch(self) -> int:
        if not self._count:
            return 0
        moved = 0
        for sub, buf in zip(self._subs, self._bufs, strict=True):
            if sub is not None and buf.count and sub.demand > 0:
                batch = buf.take(sub.demand)
                sub.deliver(batch)
                moved += len(batch)
        self._count -= moved
        return moved
