"""Checkpoints of the aggregation state to its changelog in Kafka, and restore on assign.

Every checkpoint interval each assigned partition *cuts* an epoch, the partitions in turn
spread over the interval (:meth:`Checkpointer.poll`): the records of the keys that
changed since the last cut, tombstones for keys evicted by the state TTL, and last a marker
with the partition's clock and the input offset the state covers (``covers``: every reading
below it is applied, none at or above). Outputs the aggregation emits carry the epoch that was
current when they were emitted as their acknowledgement handle (:class:`~telemetry.kafka.Pending`).
The checkpoint cycle then runs in this order, and the order is the guarantee:

1. **The epoch's outputs are delivered** (its ``pending`` is 0). Written before them, the state
   would say "done" for rollups and alerts that a crash could still lose: the restored state
   never emits them again.
2. **The epoch's records are written to the changelog**, in epoch order per partition, by an
   idempotent producer (so a partition holds a prefix of what was written, never a gap).
3. **The covered offset becomes committable** once the records are delivered
   (``PartitionOffsets.durable``), and the source commits it. Committed first, a crash would
   skip input whose effect was never made durable; the changelog marker is the source of
   truth, so a commit that lags behind it only costs a longer replay.

A cut costs a flag per changed key, not an encoding: the keys are encoded a few hundred per
pass, or just before a reading, a closing window or a silence timer changes them (copy on
write, :meth:`PartitionState.snapshot`), so what is written is the state at the cut and no
pass stalls for the whole delta (at 20,000 readings/s a synchronous cut of 10,000 keys held
alerts back for 100-300 ms). A partition has at most one epoch cut and not yet written: a cut
that falls due behind a slow sink waits, while the TTL goes on evicting keys.

All or nothing without transactions: a crash halfway through step 2 leaves some keys one epoch
ahead of the marker. Every key record carries its own ``covers``, and on replay a key skips
the readings below it (``PartitionState.feed``), so no reading is counted twice while the
partition's clock replays exactly as it ran.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry

from telemetry.aggregate._partition import PartitionState, _Key
from telemetry.aggregate._snapshot import apply, begin, key_change
from telemetry.kafka import ChangelogRecord, ChangelogWriter, Latest, PartitionOffsets, Pending
from telemetry.metrics import StateMetrics

logger = logging.getLogger("telemetry.state")

ReadChangelog = Callable[[Sequence[int]], Mapping[int, Latest]]
"""Reads changelog partitions to their end: the latest record of each key, per partition."""


SAVE_BUDGET = 256
"""Keys encoded per pass for a checkpoint in progress (about 3 ms), besides the keys that are
saved because a reading, a closing window or a silence timer is about to change them."""


class Epoch(Pending):
    """One partition's stretch of input between two cuts: the outputs it emitted (``pending``)
    and, once cut, the changelog records of its state and the offset they cover.

    A cut only marks the changed keys (``unsaved``); they are encoded a few hundred per pass,
    or just before something changes them, so the state written is the state at the cut and
    no pass stalls to encode thousands of keys at once."""

    __slots__ = ("covers", "records", "tail", "unsaved")

    def __init__(self) -> None:
        super().__init__()
        self.covers = -1
        self.records: list[ChangelogRecord] = []
        self.unsaved: list[_Key] = []
        self.tail: list[ChangelogRecord] = []  # tombstones, then the marker: written last


class _Chain:
    """The epochs of one assigned partition: the current one, then those cut and unwritten.
    ``saving`` is the cut epoch whose keys are still being encoded (at most one)."""

    __slots__ = (
        "clock",
        "covers",
        "current",
        "due",
        "failed",
        "pending",
        "saving",
        "state",
        "tracker",
    )

    def __init__(self, tracker: PartitionOffsets, state: PartitionState) -> None:
        self.tracker = tracker
        self.state = state
        self.current = Epoch()
        self.pending: deque[Epoch] = deque()
        self.saving: Epoch | None = None
        self.covers = state.position
        self.clock = state.clock
        # A pass failed halfway: the state holds part of a batch, so it is never cut again.
        self.failed = False
        # A cut is due but waits for the epoch before it to be written (see Checkpointer.poll).
        self.due = False
        state.save = self.save

    def save(self, key: _Key) -> None:
        """Encode ``key`` as it is (it has not changed since the cut) into the epoch."""
        epoch = self.saving
        assert epoch is not None  # noqa: S101 - only keys of the epoch being saved are marked
        epoch.records.append(key_change(self.state, key, epoch.covers))
        key.snap = False  # only once encoded: a failed encoding leaves it to be saved

    def save_some(self, budget: int) -> int:
        """Encode up to ``budget`` keys of the epoch being saved; returns the budget left."""
        epoch = self.saving
        if epoch is None:
            return budget
        unsaved = epoch.unsaved
        while unsaved and budget > 0:
            key = unsaved.pop()
            if key.snap:  # else saved already, before a change
                self.save(key)
                budget -= 1
        if not unsaved:
            self.saving = None
        return budget

    def writable(self) -> bool:
        """The oldest cut epoch is encoded and its outputs are delivered."""
        return (
            bool(self.pending)
            and self.pending[0] is not self.saving
            and not (self.pending[0].pending)
        )


class Checkpointer:
    """Cuts, writes and restores the state of every assigned partition (see module doc)."""

    def __init__(
        self,
        *,
        writer: ChangelogWriter,
        read: ReadChangelog,
        interval: float,
        ttl_ms: int | None,
        registry: CollectorRegistry,
    ) -> None:
        self.writer = writer
        self._read = read
        self.interval = interval
        self.ttl_ms = ttl_ms
        self.metrics = StateMetrics(registry)
        self._chains: dict[PartitionOffsets, _Chain] = {}
        self._next_cut = 0.0
        self._turn = 0  # the partition whose cut is next (see poll)

    def start(self) -> None:
        self.writer.start()
        self._next_cut = time.monotonic() + self.interval

    def stop(self, timeout: float) -> None:
        self.writer.stop(timeout)

    # -- assign / revoke ----------------------------------------------------------------------

    def restore(self, partitions: Sequence[tuple[PartitionOffsets, PartitionState]]) -> None:
        """Rebuild the state of newly assigned partitions from the changelog and set where
        their input resumes (``PartitionOffsets.start``): the marker's offset."""
        if not partitions:
            return
        started = time.monotonic()
        numbers = [tracker.partition for tracker, _ in partitions]
        self.writer.cover(numbers)
        restored = self._read(numbers)
        for tracker, state in partitions:
            keys, covers = apply(state, restored.get(tracker.partition, {}), self.ttl_ms)
            if covers is not None:
                tracker.start = covers
                tracker.durable = covers
            tracker.checkpointed = True
            self._chains[tracker] = _Chain(tracker, state)
            self.metrics.restored_keys.inc(keys)
            logger.info(
                "restored %s[%d]: %d keys, resuming at offset %s, watermark %s",
                self.writer.topic,
                tracker.partition,
                keys,
                "committed" if covers is None else covers,
                None if covers is None else state.watermark,
            )
        self.metrics.restore_seconds.observe(time.monotonic() - started)
        self._count_keys()

    def cut(self, partitions: Sequence[PartitionOffsets]) -> None:
        """Cut an epoch now for ``partitions`` (before a revoke writes what it can)."""
        for tracker in partitions:
            chain = self._chains.get(tracker)
            if chain is not None:
                self._cut(chain)

    def finish(self, partitions: Sequence[PartitionOffsets], timeout: float) -> None:
        """On revoke: write the epochs whose outputs were delivered, wait for them (at most
        ``timeout``), then forget the partitions. Epochs still waiting for outputs are dropped:
        the next owner restores the last one written and replays the rest of the input."""
        chains = [c for c in (self._chains.pop(t, None) for t in partitions) if c is not None]
        for chain in chains:
            chain.save_some(len(chain.state.keys))  # every key still unsaved
            self._write_ready(chain)
        if chains and not self.writer.flush(timeout):
            logger.warning(
                "changelog writes of a revoked partition still in flight after %gs", timeout
            )
        self._count_keys()

    def fail(self) -> None:
        """An aggregation pass raised halfway: no state of any partition may be cut from now
        on. A cut would cover readings only partly applied, and the next owner, replaying
        from the marker, would skip (lose) or count twice what the pass did half. Epochs cut
        before the failure are whole and are still written once their outputs are delivered.
        """
        for chain in self._chains.values():
            chain.failed = True

    def drop(self, partitions: Sequence[PartitionOffsets]) -> None:
        """On loss: forget the partitions without writing anything."""
        for tracker in partitions:
            self._chains.pop(tracker, None)
        self._count_keys()

    # -- the cycle ----------------------------------------------------------------------------

    def ack(self, tracker: object) -> Epoch | None:
        """The handle outputs of ``tracker``'s partition carry now (None: not checkpointed)."""
        chain = self._chains.get(tracker)  # type: ignore[call-overload]
        return None if chain is None else chain.current

    def poll(self, now: float) -> None:
        """Write every epoch whose outputs are delivered, cut the partition whose turn it
        is, serve reports. Each partition is cut about once per interval.

        A partition has at most one epoch cut and unwritten: under a slow sink a cut waits for
        the one before it instead of queueing encoded state behind it, interval after
        interval (memory stays bounded by the state, and a cut made later covers more)."""
        chains = list(self._chains.values())
        turn: _Chain | None = None
        if now >= self._next_cut and chains:
            # Partitions take turns, one cut every interval / partitions: a cut marks the keys
            # changed since the last one, each encoded before its next reading, so cutting
            # every partition at once would encode the whole state in the next few passes
            # (with a close burst on top, 100-400 ms alert tails at 20,000 readings/s).
            self._turn %= len(chains)
            turn = chains[self._turn]
            self._turn += 1
            self._next_cut = now + self.interval / len(chains)
        budget = SAVE_BUDGET
        for chain in chains:
            budget = chain.save_some(budget)
            if turn is not None:
                chain.due = chain.due or chain is turn
                if self.ttl_ms is not None:
                    # Every partition at every turn, not only at its own cut: memory follows
                    # the TTL within interval / partitions, and a cut that waits for a slow
                    # sink does not hold the TTL up. Cheap: the TTL buckets make it
                    # proportional to the keys that changed or expired.
                    self.metrics.evicted.inc(chain.state.expire(self.ttl_ms))
            if chain.writable():
                self._write_ready(chain)
            if chain.due and not chain.pending:
                chain.due = False
                self._cut(chain)
        if turn is not None:
            self._count_keys()
        self.writer.poll(0)

    def _count_keys(self) -> None:
        self.metrics.keys.set(sum(len(chain.state.keys) for chain in self._chains.values()))

    def _cut(self, chain: _Chain) -> None:
        state = chain.state
        if state.position is None or chain.failed:
            return  # nothing applied yet (nothing to cover), or not to be trusted
        if not state.dirty and state.position == chain.covers and state.clock == chain.clock:
            return
        # One epoch is saved at a time: a cut made before the last one was encoded (on
        # revoke) finishes it first, so no key is marked for two epochs.
        chain.save_some(len(state.keys))
        covers = state.position
        epoch = chain.current
        epoch.covers = covers
        if self.ttl_ms is not None:
            self.metrics.evicted.inc(state.expire(self.ttl_ms))
        epoch.unsaved, epoch.tail, _ = begin(state)
        chain.saving = epoch
        chain.pending.append(epoch)
        chain.current = Epoch()
        chain.covers = covers
        chain.clock = state.clock

    def _write_ready(self, chain: _Chain) -> None:
        tracker = chain.tracker
        writer = self.writer
        while chain.writable():
            epoch = chain.pending.popleft()
            records_before, bytes_before = writer.records_total, writer.bytes_total
            records = epoch.records
            records.extend(epoch.tail)
            writer.write(tracker.partition, records, _durable(tracker, epoch.covers, self))
            self.metrics.records.inc(writer.records_total - records_before)
            self.metrics.bytes.inc(writer.bytes_total - bytes_before)
            epoch.records, epoch.tail = [], []


def _durable(tracker: PartitionOffsets, covers: int, owner: Checkpointer) -> Callable[[], None]:
    def done() -> None:
        if tracker.durable is None or covers > tracker.durable:
            tracker.durable = covers
        owner.metrics.checkpoints.inc()

    return done
