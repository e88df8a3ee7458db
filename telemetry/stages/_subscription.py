"""Subscriptions (demand bookkeeping between two stages) and the batch FIFO they use."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telemetry.stages._stage import Stage


class Batches:
    """FIFO of event batches with an event count; every operation is per batch, not per event."""

    __slots__ = ("_batches", "count")

    def __init__(self) -> None:
        self._batches: deque[list[Any]] = deque()
        self.count = 0

    def push(self, batch: list[Any]) -> None:
        if batch:
            self._batches.append(batch)
            self.count += len(batch)

    def take(self, n: int) -> list[Any]:
        """Remove and return up to ``n`` (> 0) events, oldest first, as one list."""
        batches = self._batches
        if n >= self.count:
            self.count = 0
            if len(batches) == 1:
                return batches.pop()
            out: list[Any] = []
            for batch in batches:
                out.extend(batch)
            batches.clear()
            return out
        self.count -= n
        first = batches[0]
        if len(first) == n:
            return batches.popleft()
        if len(first) > n:
            batches[0] = first[n:]
            return first[:n]
        out = []
        while n:
            batch = batches[0]
            if len(batch) <= n:
                out.extend(batch)
                batches.popleft()
                n -= len(batch)
            else:
                out.extend(batch[:n])
                batches[0] = batch[n:]
                n = 0
        return out


class Subscription:
    """``consumer`` subscribed to ``producer``.

    ``demand`` is what the consumer has asked and the producer not yet delivered; ``inbox`` holds
    delivered events the consumer has not handled yet. In automatic mode the engine keeps
    ``demand + buffered + handled-not-yet-re-asked == max_demand``, so the inbox never exceeds
    ``max_demand``. In manual mode only the consumer's own :meth:`ask` calls add demand.
    """

    __slots__ = (
        "_handled",
        "_threshold",
        "consumer",
        "demand",
        "inbox",
        "manual",
        "max_demand",
        "min_demand",
        "partition",
        "producer",
    )

    def __init__(
        self,
        producer: Stage,
        consumer: Stage,
        *,
        max_demand: int,
        min_demand: int,
        partition: int | None,
        manual: bool,
    ) -> None:
        if max_demand < 1 or not 0 <= min_demand < max_demand:
            raise ValueError(
                f"need max_demand >= 1 and 0 <= min_demand < max_demand, "
                f"got max_demand={max_demand}, min_demand={min_demand}"
            )
        self.producer = producer
        self.consumer = consumer
        self.max_demand = max_demand
        self.min_demand = min_demand
        self.partition = partition
        self.manual = manual
        self.demand = 0 if manual else max_demand
        self.inbox = Batches()
        self._handled = 0
        self._threshold = max_demand - min_demand

    @property
    def buffered(self) -> int:
        return self.inbox.count

    @property
    def handled_unasked(self) -> int:
        """Events handled since the last automatic ask (always 0 in manual mode)."""
        return self._handled

    def ask(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"cannot ask for {n} events")
        self.demand += n

    def deliver(self, batch: list[Any]) -> None:
        self.inbox.push(batch)
        self.demand -= len(batch)

    def handled(self, n: int) -> None:
        """The consumer finished ``n`` inbox events; re-ask once max - min are done."""
        if self.manual:
            return
        done = self._handled + n
        if done >= self._threshold:
            self.demand += done
            self._handled = 0
        else:
            self._handled = done

    def __repr__(self) -> str:
        return (
            f"Subscription({self.consumer.name!r} <- {self.producer.name!r}, "
            f"demand={self.demand}, buffered={self.inbox.count}, max_demand={self.max_demand})"
        )
