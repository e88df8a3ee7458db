"""State of one aggregation partition: its clock, windows, rule states and timers.

Time. ``clock`` is the partition's event-time frontier: the largest ``ts`` seen, or, once the
partition has seen no reading for ``idle_timeout`` seconds of wall time, ``max ts + wall seconds
since the last reading * 1000`` (event time keeps flowing with the wall clock while the partition
is quiet). It never goes back. ``watermark = clock - allowed_lateness``.

Windows close (emit) when ``watermark >= end`` (session: ``>= last ts + gap``); closing happens
after each run of readings and on ticks. Because lateness is decided against the watermark (not
against which windows happen to be closed), outputs do not depend on how readings are batched.

Lateness. A reading is dropped from each tumbling/hopping window with ``end <= watermark``; it
still joins the windows of other specs (and other hops) that are open. For session specs it is
dropped when ``ts < watermark``: an older reading could bridge a session already emitted. A reading
dropped from at least one window is emitted once as ``late``.

Plug-in window kinds (any spec but tumbling, hopping, session: see
:class:`telemetry.windows.WindowRuntime`) are fed after the built-in ones, decide their own
lateness, and close after them in each pass, under the same budget.

Duplicates (same device, sensor, seq, ts) are ordinary readings: counted in windows and seen by
rules (deduplicating would need per-key seq memory; the pipeline is at-least-once anyway).

Rules see every reading in arrival order, late or not. Silence timers fire, in deadline order,
as soon as the clock passes ``last ts + after_ms`` of a key: before the reading that moved the
clock is applied, so a key's own long gap yields RAISED then CLEARED.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from heapq import heappop, heappush
from itertools import count
from typing import Any, cast

from ddsketch import DDSketch

from telemetry.aggregate._events import ALERT, LATE, ROLLUP, Emitted, Event
from telemetry.rules import Rule, RuleState, SilentState, matches, new_rule_state
from telemetry.windows import (
    WIDE,  # the loop below inlines Accumulator.add
    Accumulator,
    Hopping,
    PluginSpec,
    Rollup,
    Session,
    Tumbling,
    WindowRuntime,
    WindowSpec,
)

_NEVER = -(2**62)
_FOREVER = 2**62

SAVE_COST = 3
"""Close budget one checkpoint save of a key takes: encoding a key costs about three closes."""


def _unset(key: _Key) -> None:
    raise RuntimeError(f"no checkpoint saves {key.device}/{key.sensor}")


def _bucket_width(ttl_ms: int) -> int:
    # Eight buckets per TTL: a key lives at most an eighth of the TTL longer than it must.
    return max(ttl_ms // 8, 1)


class _Key:
    """Everything kept for one (device, sensor) in one partition.

    ``covers``: after a restore, the input offset this key's restored state covers; replayed
    readings below it are already in it (see :meth:`PartitionState.feed`). ``slot``: the TTL
    bucket the key was last filed under (see :meth:`PartitionState.evict`). ``snap``: a
    checkpoint wants the key as it is now and has not saved it yet (see
    :meth:`PartitionState.snapshot`).
    """

    __slots__ = (
        "covers",
        "device",
        "ext",
        "last_ts",
        "rules",
        "sensor",
        "sessions",
        "silent",
        "slot",
        "snap",
        "wins",
    )

    def __init__(
        self, device: str, sensor: str, n_fixed: int, n_sessions: int, plugins: list[WindowRuntime]
    ) -> None:
        self.device = device
        self.sensor = sensor
        self.last_ts = _NEVER
        self.covers = 0
        self.slot: int | None = None
        self.snap = False
        self.wins: list[dict[int, Accumulator]] = [{} for _ in range(n_fixed)]
        self.sessions: list[list[Accumulator]] = [[] for _ in range(n_sessions)]
        self.ext: list[Any] = [rt.new_slot() for rt in plugins]
        self.rules: list[RuleState] = []
        self.silent: list[SilentState] = []


class _Fixed:
    """A tumbling or hopping spec in one partition: open windows bucketed by end."""

    __slots__ = ("advance", "ends", "heap", "index", "kind", "percentiles", "size", "tumbling")

    def __init__(self, index: int, spec: Tumbling | Hopping) -> None:
        self.index = index
        self.size = spec.size_ms
        self.advance = spec.advance_ms if isinstance(spec, Hopping) else spec.size_ms
        self.tumbling = self.advance == self.size
        self.kind = spec.symbol
        self.percentiles = spec.percentiles
        self.ends: dict[int, list[tuple[_Key, int]]] = {}
        self.heap: list[int] = []


class _Sessions:
    """A session spec in one partition: a lazy heap of (deadline, seq, key, window)."""

    __slots__ = ("gap", "heap", "index", "percentiles")

    def __init__(self, index: int, spec: Session) -> None:
        self.index = index
        self.gap = spec.gap_ms
        self.percentiles = spec.percentiles
        self.heap: list[tuple[int, int, _Key, Accumulator]] = []


class PartitionState:
    """Windows, rules and clock of one aggregation partition (see the module docstring)."""

    def __init__(
        self,
        partition: Hashable,
        *,
        windows: tuple[WindowSpec, ...],
        rules: tuple[Rule, ...],
        allowed_lateness_ms: int,
        idle_timeout: float,
        relative_accuracy: float,
        now: float,
    ) -> None:
        self.partition = partition
        self.lateness = allowed_lateness_ms
        self.idle_timeout = idle_timeout
        self.accuracy = relative_accuracy
        self.rules = rules
        # The built-in kinds run in the loops inlined below; any other kind brings a runtime.
        fixed = [s for s in windows if isinstance(s, Tumbling | Hopping)]
        sessions = [s for s in windows if isinstance(s, Session)]
        plugins = [
            cast("PluginSpec", s)  # the rest are plug-ins by construction
            for s in windows
            if not isinstance(s, Tumbling | Hopping | Session)
        ]
        self.fixed = [_Fixed(i, s) for i, s in enumerate(fixed)]
        self.sessions = [_Sessions(i, s) for i, s in enumerate(sessions)]
        self.plugins: list[WindowRuntime] = [
            s.runtime(i, relative_accuracy) for i, s in enumerate(plugins)
        ]
        # Plug-in runtimes do not report their opens: each reading they see counts as the most
        # it can open, so their closes are paced like the built-ins' (see ``opened``).
        self._plugin_opens = sum(s.windows_per_reading for s in plugins)
        self.tumbling_only = (
            len(self.fixed) == 1
            and self.fixed[0].tumbling
            and not self.sessions
            and not self.plugins
            and not any(rule.timed for rule in rules)
        )
        # Specs by their changelog id (see telemetry.aggregate._snapshot).
        self.spec_ids: dict[_Fixed | _Sessions | WindowRuntime, str] = {}
        self.specs_by_id: dict[str, tuple[str, int, bool]] = {}
        self.percentiles = any(s.percentiles for s in windows)
        for fx, spec in zip(self.fixed, fixed, strict=True):
            self.spec_ids[fx] = spec.spec_id
            self.specs_by_id[spec.spec_id] = ("fixed", fx.index, spec.percentiles)
        for ss, sspec in zip(self.sessions, sessions, strict=True):
            self.spec_ids[ss] = sspec.spec_id
            self.specs_by_id[sspec.spec_id] = ("session", ss.index, sspec.percentiles)
        for rt, pspec in zip(self.plugins, plugins, strict=True):
            self.spec_ids[rt] = pspec.spec_id
            self.specs_by_id[pspec.spec_id] = ("plugin", rt.slot, pspec.percentiles)
        self.keys: dict[tuple[str, str], _Key] = {}
        self.max_ts = _NEVER
        self.clock = _NEVER
        self.last_seen = now
        self.arrival = 0
        self.timers: list[tuple[int, int, _Key, SilentState]] = []
        self._seq = count()
        self.late_total = 0
        self.readings_total = 0
        # Windows opened since the aggregator last read it: what paces closing (see
        # Aggregator.process), counted per open, not per reading.
        self.opened = 0
        # Durable state (see telemetry.aggregate._checkpoint): the next input offset not yet
        # applied, the keys changed since the last checkpoint, and the restore's replay bound.
        self.position: int | None = None
        self.dirty: set[_Key] = set()
        self.replay_until = 0
        self._buckets: dict[int, list[_Key]] = {}
        self.evicted: list[_Key] = []  # since the last checkpoint: its tombstones are due
        # Saves a key marked ``snap`` as it is, before anything changes it (copy on write).
        self.save: Callable[[_Key], None] = _unset

    @property
    def watermark(self) -> int:
        return self.clock - self.lateness

    # -- input -------------------------------------------------------------------------------

    def feed(  # noqa: PLR0912, PLR0915 - the hot loop, inlined on purpose
        self,
        events: list[Event],
        start: int,
        now: float,
        out: list[Emitted],
        front_limit: int = _FOREVER,
    ) -> int:
        """Apply readings from ``events[start]`` while they belong to this partition; return
        the index of the first one that does not. Closes nothing (see :meth:`close`).

        ``front_limit`` (epoch ms): the clock moves no further, whatever a reading's ``ts``
        says (the wall clock plus ``processing.max_clock_ahead_ms``). A device whose clock
        runs ahead still gets its reading into its windows, but cannot make every other
        device's readings late."""
        if self.tumbling_only:
            return self._feed_tumbling(events, start, now, out, front_limit)
        p = self.partition
        keys = self.keys
        lateness = self.lateness
        fixed = self.fixed
        sessions = self.sessions
        plugins = self.plugins
        arrival = self.arrival
        replay_until = self.replay_until
        dirty = self.dirty.add
        late_n = 0
        n = len(events)
        i = start
        while i < n:
            part, offset, r = events[i]
            if part != p:
                break
            i += 1
            ts = r["ts"]
            value = r["value"]
            if ts > self.max_ts:
                front = ts if ts <= front_limit else front_limit
                if front > self.max_ts:
                    self.max_ts = front
                    if front > self.clock:
                        self.clock = front
                        timers = self.timers
                        if timers and timers[0][0] <= front:
                            self._fire(out)
            device = r["device_id"]
            sensor = r["sensor"]
            key = keys.get((device, sensor))
            if key is None:
                key = self._new_key(device, sensor, ts, value)
            elif key.snap:
                self.save(key)
            arrival += 1
            if offset < replay_until and offset < key.covers:
                continue  # a replayed reading this key's restored state already holds
            dirty(key)
            key.last_ts = max(key.last_ts, ts)
            wm = self.clock - lateness
            late = False
            wins_of = key.wins
            for fx in fixed:
                size = fx.size
                wins = wins_of[fx.index]
                s = ts - ts % fx.advance
                lo = ts - size
                while s > lo:
                    e = s + size
                    if e <= wm:  # this and every earlier window of the spec has closed
                        late = True
                        break
                    acc = wins.get(s)
                    if acc is None:
                        self._open(fx, key, s, e, ts, value, offset, arrival)
                    else:
                        acc.add(ts, value, arrival)
                    s -= fx.advance
            for ss in sessions:
                if ts < wm:
                    late = True
                    continue
                gap = ss.gap
                open_ = key.sessions[ss.index]
                target = None
                merged = False
                for acc in open_:
                    if acc.fts - gap < ts < acc.lts + gap:
                        if target is None:
                            target = acc
                            acc.add(ts, value, arrival)
                        else:
                            target.merge(acc)
                            acc.count = 0  # dead: its heap entry is skipped
                            merged = True
                if target is None:
                    sketch = DDSketch(self.accuracy) if ss.percentiles else None
                    acc = Accumulator(ts, value, offset, arrival, sketch)
                    self.opened += 1
                    open_.append(acc)
                    heappush(ss.heap, (ts + gap, next(self._seq), key, acc))
                elif merged:
                    open_[:] = [a for a in open_ if a.count]
            for rt in plugins:
                if rt.feed(key, ts, value, offset, arrival, wm):
                    late = True
            if late:
                late_n += 1
                out.append(Emitted(LATE, p, offset, r))
            for st in key.silent:
                alert = st.see(device, sensor, ts, value)
                if alert is not None:
                    out.append(Emitted(ALERT, p, offset, alert))
                    heappush(self.timers, (st.deadline(), next(self._seq), key, st))
            for rs in key.rules:
                alert = rs.feed(device, sensor, ts, value)
                if alert is not None:
                    out.append(Emitted(ALERT, p, offset, alert))
        self.readings_total += i - start
        self.opened += (i - start) * self._plugin_opens
        self.late_total += late_n
        self.arrival = arrival
        self.last_seen = now
        if i > start:
            self.advance(events[i - 1][1])
        return i

    def _feed_tumbling(  # noqa: PLR0912, PLR0915 - the hot loop, inlined on purpose
        self,
        events: list[Event],
        start: int,
        now: float,
        out: list[Emitted],
        front_limit: int,
    ) -> int:
        """:meth:`feed` for one tumbling spec, no sessions and no silence rules (so no
        timers): the common configuration, with :meth:`Accumulator.add` inlined."""
        p = self.partition
        keys = self.keys
        lateness = self.lateness
        fx = self.fixed[0]
        index = fx.index
        size = fx.size
        arrival = self.arrival
        replay_until = self.replay_until
        dirty = self.dirty.add
        late_n = 0
        n = len(events)
        i = start
        while i < n:
            part, offset, r = events[i]
            if part != p:
                break
            i += 1
            ts = r["ts"]
            value = r["value"]
            if ts > self.max_ts:
                front = ts if ts <= front_limit else front_limit
                if front > self.max_ts:
                    self.max_ts = front
                    if front > self.clock:  # noqa: PLR1730 - max() costs a call per reading
                        self.clock = front
            device = r["device_id"]
            sensor = r["sensor"]
            key = keys.get((device, sensor))
            if key is None:
                key = self.new_key(device, sensor)
            elif key.snap:
                self.save(key)
            arrival += 1
            if offset < replay_until and offset < key.covers:
                continue  # a replayed reading this key's restored state already holds
            dirty(key)
            if ts > key.last_ts:  # noqa: PLR1730 - as above
                key.last_ts = ts
            s = ts - ts % size
            e = s + size
            if e <= self.clock - lateness:
                late_n += 1
                out.append(Emitted(LATE, p, offset, r))
            else:
                acc = key.wins[index].get(s)
                if acc is None:
                    self._open(fx, key, s, e, ts, value, offset, arrival)
                else:
                    cnt = acc.count + 1
                    acc.count = cnt
                    if value < acc.min:
                        acc.min = value
                        if value < -WIDE:
                            acc.widen()
                    elif value > acc.max:
                        acc.max = value
                        if value > WIDE:
                            acc.widen()
                    v = value * acc.scale
                    acc.sum += v
                    mean = acc.mean
                    delta = v - mean
                    mean += delta / cnt
                    acc.mean = mean
                    acc.m2 += delta * (v - mean)
                    if ts < acc.fts:
                        acc.fts = ts
                        acc.first = value
                        acc.farr = arrival
                    if ts >= acc.lts:
                        acc.lts = ts
                        acc.last = value
                        acc.larr = arrival
                    if acc.sketch is not None:
                        acc.sketch.add(value)
            for rs in key.rules:
                alert = rs.feed(device, sensor, ts, value)
                if alert is not None:
                    out.append(Emitted(ALERT, p, offset, alert))
        self.readings_total += i - start
        self.late_total += late_n
        self.arrival = arrival
        self.last_seen = now
        if i > start:
            self.advance(events[i - 1][1])
        return i

    def _open(  # noqa: PLR0917 - positional on purpose: once per new window
        self,
        fx: _Fixed,
        key: _Key,
        start: int,
        end: int,
        ts: int,
        value: float,
        offset: int,
        arrival: int,
    ) -> None:
        self.opened += 1
        sketch = DDSketch(self.accuracy) if fx.percentiles else None
        key.wins[fx.index][start] = Accumulator(ts, value, offset, arrival, sketch)
        bucket = fx.ends.get(end)
        if bucket is None:
            fx.ends[end] = bucket = []
            heappush(fx.heap, end)
        bucket.append((key, start))

    def _new_key(self, device: str, sensor: str, ts: int, value: float) -> _Key:
        key = self.new_key(device, sensor)
        for st in key.silent:  # silence is timed from the key's first reading
            st.last_ts = ts
            st.last_value = value
        self.arm(key)
        return key

    def arm(self, key: _Key) -> None:
        """Start the silence timers of ``key`` that have not fired."""
        for st in key.silent:
            if not st.raised:
                heappush(self.timers, (st.deadline(), next(self._seq), key, st))

    def add_window(self, key: _Key, spec_index: int, start: int, acc: Accumulator) -> None:
        """Put a restored open window of the ``spec_index``-th fixed spec back in place."""
        fx = self.fixed[spec_index]
        key.wins[spec_index][start] = acc
        end = start + fx.size
        bucket = fx.ends.get(end)
        if bucket is None:
            fx.ends[end] = bucket = []
            heappush(fx.heap, end)
        bucket.append((key, start))

    def add_session(self, key: _Key, spec_index: int, acc: Accumulator) -> None:
        """Put a restored open session of the ``spec_index``-th session spec back in place."""
        ss = self.sessions[spec_index]
        key.sessions[spec_index].append(acc)
        heappush(ss.heap, (acc.lts + ss.gap, next(self._seq), key, acc))

    def new_key(self, device: str, sensor: str) -> _Key:
        """An empty key with fresh rule states and no timers (a restore fills it in)."""
        key = _Key(device, sensor, len(self.fixed), len(self.sessions), self.plugins)
        for rule in self.rules:
            if not matches(rule, device, sensor):
                continue
            state = new_rule_state(rule)
            if isinstance(state, SilentState):  # timed: the partition keeps its timer
                key.silent.append(state)
            else:
                key.rules.append(state)
        self.keys[device, sensor] = key
        return key

    # -- durable state -----------------------------------------------------------------------

    def advance(self, offset: int) -> None:
        """Input up to ``offset`` is applied (a reading, or a dead letter passing through)."""
        if self.position is None or offset >= self.position:
            self.position = offset + 1

    def snapshot(self) -> tuple[list[_Key], list[_Key]]:
        """Start a checkpoint: the keys changed since the last one, marked ``snap`` (each is
        saved through :attr:`save` before anything changes it, or by the caller in its own
        time), and the keys evicted since. Costs a flag per changed key, not an encoding."""
        changed, evicted = self.take_changes()
        for key in changed:
            key.snap = True
        return changed, evicted

    def take_changes(self) -> tuple[list[_Key], list[_Key]]:
        """Keys changed since the last call, and keys evicted since (see :meth:`expire`)."""
        dirty, self.dirty = self.dirty, set()
        evicted, self.evicted = self.evicted, []
        keys = self.keys
        # A device that came back since its eviction is a changed key again, not a tombstone.
        gone = [k for k in evicted if (k.device, k.sensor) not in keys]
        return list(dirty), gone

    def expire(self, ttl_ms: int) -> int:
        """Evict the keys the TTL has passed now (:meth:`evict`), also between checkpoints:
        memory must not wait for a checkpoint held up by a slow sink. Their tombstones go
        with the next checkpoint; returns the number evicted."""
        self.file(self.dirty, ttl_ms)
        evicted = self.evict(ttl_ms)
        if evicted:
            self.dirty.difference_update(evicted)
            self.evicted.extend(evicted)
        return len(evicted)

    def file(self, keys: Iterable[_Key], ttl_ms: int) -> None:
        """File ``keys`` in the TTL bucket of their last reading (when it moved)."""
        width = _bucket_width(ttl_ms)
        buckets = self._buckets
        for key in keys:
            slot = key.last_ts // width
            if slot != key.slot:
                key.slot = slot
                buckets.setdefault(slot, []).append(key)

    def evict(self, ttl_ms: int) -> list[_Key]:
        """Forget the keys without a reading for ``ttl_ms`` of event time and with no open
        window. Keys are filed in buckets by their last reading (:meth:`file`), so the work is
        proportional to the keys that changed or expired, not to all keys."""
        width = _bucket_width(ttl_ms)
        horizon = self.clock - ttl_ms
        buckets = self._buckets
        keys = self.keys
        evicted: list[_Key] = []
        for slot in sorted(s for s in buckets if (s + 1) * width <= horizon):
            for key in buckets.pop(slot):
                if key.slot != slot or keys.get((key.device, key.sensor)) is not key:
                    continue  # refiled since, or already gone
                if (
                    key.snap
                    or any(key.wins)
                    or any(key.sessions)
                    or any(rt.holds(key) for rt in self.plugins)
                    or any(not st.raised for st in key.silent)
                ):
                    # Not saved yet by the checkpoint in progress, a window left open by a
                    # close budget, or a silence timer not fired yet (the next tick fires it):
                    # look again later.
                    key.slot = horizon // width
                    buckets.setdefault(key.slot, []).append(key)
                    continue
                del keys[key.device, key.sensor]
                evicted.append(key)
        return evicted

    # -- time --------------------------------------------------------------------------------

    def tick(self, now: float, out: list[Emitted], budget: int | None = None) -> int | None:
        """Idle clock: advance with wall time once quiet for ``idle_timeout``; then close (at
        most ``budget`` windows, see :meth:`close`). Returns the budget left."""
        if self.max_ts == _NEVER:
            return budget
        idle = now - self.last_seen
        if idle >= self.idle_timeout:
            ext = self.max_ts + int(idle * 1000)
            self.clock = max(ext, self.clock)
        self._fire(out)  # also timers armed behind the clock by old readings since
        return self.close(out, budget)

    def closable(self) -> bool:
        """Some window has ended at the watermark but is still open (left by a budget)."""
        wm = self.clock - self.lateness
        return (
            any(fx.heap and fx.heap[0] <= wm for fx in self.fixed)
            or any(ss.heap and ss.heap[0][0] <= wm for ss in self.sessions)
            or any(rt.closable(wm) for rt in self.plugins)
        )

    def _fire(self, out: list[Emitted]) -> None:
        """Raise every silence alert whose deadline the clock has reached."""
        clock = self.clock
        timers = self.timers
        p = self.partition
        while timers and timers[0][0] <= clock:
            _, _, key, st = heappop(timers)
            deadline = st.deadline()
            if deadline > clock:  # the key reported since: re-arm
                heappush(timers, (deadline, next(self._seq), key, st))
            else:
                if key.snap:
                    self.save(key)
                self.dirty.add(key)
                out.append(Emitted(ALERT, p, -1, st.fire(key.device, key.sensor)))

    def close(  # noqa: PLR0912 - the closing loop, inlined on purpose
        self, out: list[Emitted], budget: int | None = None
    ) -> int | None:
        """Emit and forget the windows the watermark has passed, at most ``budget`` of them
        (None: all). Returns the budget left (None when unlimited); windows beyond it stay
        open, holding their offsets, until a later call closes them. A key a checkpoint has
        not saved yet is encoded first, at :data:`SAVE_COST` closes: a close burst right after a
        cut must not encode every key of the partition in one pass."""
        wm = self.clock - self.lateness
        p = self.partition
        dirty = self.dirty.add
        for fx in self.fixed:
            heap = fx.heap
            kind = fx.kind
            index = fx.index
            ends = fx.ends
            while heap and heap[0] <= wm:
                e = heap[0]
                bucket = ends[e]
                while bucket:
                    if budget is not None:
                        if budget <= 0:
                            return 0
                        budget -= 1
                    key, s = bucket.pop()
                    if key.snap:
                        self.save(key)
                        if budget is not None:
                            budget -= SAVE_COST
                    acc = key.wins[index].pop(s)
                    dirty(key)
                    rollup = acc.rollup(key.device, key.sensor, kind, s, e)
                    out.append(Emitted(ROLLUP, p, acc.offset, rollup))
                heappop(heap)
                del ends[e]
        for ss in self.sessions:
            sheap = ss.heap
            gap = ss.gap
            while sheap and sheap[0][0] <= wm:
                if budget is not None:
                    if budget <= 0:
                        return 0
                    budget -= 1
                _, _, key, acc = heappop(sheap)
                if not acc.count:
                    continue  # merged into another session
                deadline = acc.lts + gap
                if deadline > wm:
                    heappush(sheap, (deadline, next(self._seq), key, acc))
                    continue
                if key.snap:
                    self.save(key)
                    if budget is not None:
                        budget -= SAVE_COST
                key.sessions[ss.index].remove(acc)
                dirty(key)
                rollup = acc.rollup(key.device, key.sensor, "SESSION", acc.fts, acc.lts + 1)
                out.append(Emitted(ROLLUP, p, acc.offset, rollup))
        if self.plugins:
            budget = self._close_plugins(wm, out, budget)
        return budget if budget is None or budget > 0 else 0

    def _close_plugins(self, wm: int, out: list[Emitted], budget: int | None) -> int | None:
        p = self.partition

        def touch(key: _Key) -> int:
            self.dirty.add(key)
            if key.snap:
                self.save(key)
                return SAVE_COST
            return 0

        def emit(offset: int, rollup: Rollup) -> None:
            out.append(Emitted(ROLLUP, p, offset, rollup))

        for rt in self.plugins:
            budget = rt.close(wm, budget, touch, emit)
            if budget == 0:
                return 0
        return budget

    # -- offsets -----------------------------------------------------------------------------

    def min_open_offset(self) -> int | None:
        """Smallest source offset held by an open window, or None when no window is open."""
        best: int | None = None
        for key in self.keys.values():
            for wins in key.wins:
                for acc in wins.values():
                    if best is None or acc.offset < best:
                        best = acc.offset
            for open_ in key.sessions:
                for acc in open_:
                    if best is None or acc.offset < best:
                        best = acc.offset
            for rt in self.plugins:
                for _, acc in rt.open_windows(key):
                    if best is None or acc.offset < best:
                        best = acc.offset
        return best

    def open_windows(self) -> int:
        keys = self.keys.values()
        return (
            sum(len(w) for k in keys for w in k.wins)
            + sum(len(s) for k in keys for s in k.sessions)
            + sum(len(list(rt.open_windows(k))) for k in keys for rt in self.plugins)
        )
