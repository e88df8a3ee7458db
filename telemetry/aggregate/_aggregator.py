"""The aggregation stage: readings in, rollups, alerts and late readings out."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable

from telemetry.aggregate._events import Emitted, Event
from telemetry.aggregate._partition import SAVE_COST, PartitionState
from telemetry.errors import ConfigError
from telemetry.rules import Rule
from telemetry.stages import Dispatcher, Processor, Supervision
from telemetry.windows import DEFAULT_RELATIVE_ACCURACY, WindowSpec

_FOREVER = 2**62

CLOSE_BUDGET = 250
"""Windows closed per pass at least (more with bigger batches): about 5 ms of encoding, so an
alert is never queued behind thousands of rollups that came due at the same instant."""


class Aggregator(Processor[Event, Emitted]):
    """Event-time windows and alert rules over readings, one state per aggregation partition.

    Input events are ``(partition, offset, reading)`` tuples (:data:`Event`); outputs are
    :class:`Emitted` (kind ``rollup`` / ``alert`` / ``late``). Partitions are opened and closed by
    the caller on Kafka assign/revoke (:meth:`open_partition`, :meth:`close_partition`); readings
    of a partition that is not open are dropped and counted in ``unassigned_total`` (in-flight
    readings of a revoked partition: the next owner replays them).

    ``clock`` must be the clock the pipeline passes to ``on_tick`` (both default to
    ``time.monotonic``): it timestamps the last reading of each partition for the idle clock.
    See :mod:`telemetry.aggregate._partition` for the time, lateness and rule semantics.
    """

    def __init__(
        self,
        *,
        name: str = "aggregate",
        windows: Iterable[WindowSpec],
        rules: Iterable[Rule] = (),
        allowed_lateness_ms: int = 0,
        idle_timeout: float = 30.0,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        clock: Callable[[], float] = time.monotonic,
        max_clock_ahead_ms: int | None = None,
        wall_clock: Callable[[], float] = time.time,
        tick_interval: float | None = 1.0,
        close_budget: int = CLOSE_BUDGET,
        dispatcher: Dispatcher | None = None,
        buffer_size: int = 10_000,
        supervision: Supervision | None = None,
    ) -> None:
        super().__init__(
            name=name,
            dispatcher=dispatcher,
            buffer_size=buffer_size,
            supervision=supervision,
            tick_interval=tick_interval,
        )
        self.windows = tuple(windows)
        self.rules = tuple(rules)
        if allowed_lateness_ms < 0:
            raise ConfigError(f"allowed_lateness_ms must be >= 0, got {allowed_lateness_ms}")
        if idle_timeout <= 0:
            raise ConfigError(f"idle_timeout must be > 0 seconds, got {idle_timeout}")
        if not 0 < relative_accuracy < 1:
            raise ConfigError(f"relative_accuracy must be in (0, 1), got {relative_accuracy}")
        _check_windows(self.windows)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"alert rule names must be unique, got {names}")
        self.allowed_lateness_ms = allowed_lateness_ms
        self.idle_timeout = idle_timeout
        self.relative_accuracy = relative_accuracy
        self._clock = clock
        # How far a partition's clock may run ahead of the wall clock (None: no bound).
        self.max_clock_ahead_ms = max_clock_ahead_ms
        self._wall = wall_clock
        self._parts: dict[Hashable, PartitionState] = {}
        self.close_budget = close_budget
        # Windows a reading can open: a hopping spec opens size / advance of them at once.
        self.unassigned_total = 0
        self._late_closed = 0  # late readings of partitions closed since

    # -- partitions --------------------------------------------------------------------------

    def open_partition(self, partition: Hashable) -> None:
        """Start empty state for ``partition`` (on assign). Re-opening resets it."""
        self._parts[partition] = PartitionState(
            partition,
            windows=self.windows,
            rules=self.rules,
            allowed_lateness_ms=self.allowed_lateness_ms,
            idle_timeout=self.idle_timeout,
            relative_accuracy=self.relative_accuracy,
            now=self._clock(),
        )

    def close_partition(self, partition: Hashable) -> None:
        """Drop the state of ``partition`` (on revoke); its open windows are not emitted."""
        state = self._parts.pop(partition, None)
        if state is not None:
            self._late_closed += state.late_total

    def state(self, partition: Hashable) -> PartitionState | None:
        """The state of an open partition (None when it is not open)."""
        return self._parts.get(partition)

    @property
    def partitions(self) -> list[Hashable]:
        return list(self._parts)

    def min_open_offset(self, partition: Hashable) -> int | None:
        """Smallest source offset held by an open window of ``partition`` (None: none held).

        The committable offset of the partition is at most this; a rollup, once emitted, holds
        its window's smallest offset through ``Emitted.offset`` until delivered.
        """
        state = self._parts.get(partition)
        return None if state is None else state.min_open_offset()

    def watermark(self, partition: Hashable) -> int | None:
        """Current watermark of ``partition`` in epoch ms (None before its first reading)."""
        state = self._parts.get(partition)
        if state is None or state.max_ts == state.clock == -(2**62):
            return None
        return state.watermark

    def touch(self, partition: Hashable, now: float) -> None:
        """``partition`` is not idle at ``now`` although no reading arrived: it has a backlog
        its source has not fetched yet. Keeps the idle clock from running ahead of its data."""
        state = self._parts.get(partition)
        if state is not None:
            state.last_seen = now

    @property
    def late_total(self) -> int:
        """Readings reported late since this stage was created."""
        return self._late_closed + sum(s.late_total for s in self._parts.values())

    # -- stage callbacks ---------------------------------------------------------------------

    def process(self, events: list[Event]) -> list[Emitted]:
        out: list[Emitted] = []
        n = len(events)
        if not n:
            return out
        now = self._clock()
        ahead = self.max_clock_ahead_ms
        front_limit = _FOREVER if ahead is None else int(self._wall() * 1000) + ahead
        parts = self._parts
        i = 0
        while i < n:
            p = events[i][0]
            state = parts.get(p)
            if state is None:
                j = i + 1
                while j < n and events[j][0] == p:
                    j += 1
                self.unassigned_total += j - i
                i = j
                continue
            i = state.feed(events, i, now, out, front_limit)
        # Closing is spread over passes: a burst of thousands of windows ending together must
        # not stall the readings (and their alerts) behind it. Each window the pass opened buys
        # its own close and one checkpoint save of its key, so closing keeps up with input (one
        # -shot devices too) while a pass that opens little closes little: paced by the number
        # of readings instead, a slow pass would make the next one bigger and slower still.
        opened = 0
        for state in parts.values():
            opened += state.opened
            state.opened = 0
        budget: int | None = max(self.close_budget, opened * (1 + SAVE_COST))
        for state in parts.values():
            budget = state.close(out, budget)
            if budget == 0:
                break
        return out

    def on_tick(self, now: float) -> list[Emitted]:
        out: list[Emitted] = []
        budget: int | None = self.close_budget
        for state in self._parts.values():
            budget = state.tick(now, out, budget)
        return out

    def tick_pending(self) -> bool:
        """Windows are closable but were left for later by the close budget: tick again now."""
        return any(state.closable() for state in self._parts.values())

    def restart(self) -> None:
        """After a failure the state cannot be trusted: drop it, keep the partitions open (the
        caller is expected to rewind them to their committed offsets)."""
        for p in list(self._parts):
            self.open_partition(p)
        super().restart()


def _check_windows(windows: tuple[WindowSpec, ...]) -> None:
    """A rollup's identity is (device, sensor, window start, window size): two specs of fixed
    size (tumbling, hopping, sliding) with one size would emit colliding identities, so sizes
    must differ, and there is at most one spec of varying size (session). (A session can still
    coincide with a fixed window of the same start and size: consumers that upsert should add
    ``window_kind`` to the key.) Spec ids name windows in the changelog: they must differ."""
    if not windows:
        raise ConfigError("the aggregator needs at least one window spec")
    sizes = [w.extent_ms for w in windows if w.fixed_size]
    varying = [w for w in windows if not w.fixed_size]
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"tumbling/hopping/sliding window sizes must be distinct, got {sizes}")
    if len(varying) > 1:  # sessions of two gaps can have equal start and size
        raise ConfigError(f"at most one session window spec, got {list(varying)}")
    ids = [w.spec_id for w in windows]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"window specs must differ, got {ids}")
