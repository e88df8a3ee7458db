"""Sliding windows: a window of ``size_ms`` ending after each reading, computed from panes.

Semantics. Event time is cut into panes ``[k*every, (k+1)*every)``. For every pane of a key that
holds a reading, the key emits one rollup of the window ``[e - size, e)``, where ``e`` is the
pane's end: the trailing ``size_ms`` up to the reading, with the end rounded up to the
``every_ms`` grid. With ``every_ms = 1`` that is exactly the window ending at each reading's
timestamp (readings with one timestamp share it). The window closes, like a tumbling one, when
the watermark reaches ``e``; a reading whose pane has closed is late and joins no window.

Cost. A reading updates one pane (as a tumbling window would); a close merges the key's panes
of the window (at most ``size / every``). A pane is kept until the watermark passes
``start + size`` (the last window that can still need it), then dropped. Which of a key's panes
have been emitted is its ``emitted`` end, saved with it, so a restore never republishes one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import ClassVar

from ddsketch import DDSketch

from telemetry.errors import ConfigError
from telemetry.windows._accumulator import Accumulator
from telemetry.windows._kind import Emit, PluginKey, Touch
from telemetry.windows._specs import positive_ms

_NEVER = -(2**62)
SYMBOL = "SLIDING"


@dataclass(frozen=True, slots=True)
class Sliding:
    """A window of ``size_ms`` ending at each reading's ``every_ms`` pane (module docstring)."""

    kind_name: ClassVar[str] = "sliding"
    symbol: ClassVar[str] = SYMBOL
    fixed_size: ClassVar[bool] = True

    size_ms: int
    every_ms: int = 1000
    """Pane width: the resolution of the windows' ends (1 ms: one window per timestamp)."""
    percentiles: bool = False

    def __post_init__(self) -> None:
        positive_ms("size_ms", self.size_ms)
        positive_ms("every_ms", self.every_ms)
        if self.size_ms % self.every_ms:
            raise ConfigError(
                f"size_ms ({self.size_ms}) must be a multiple of every_ms ({self.every_ms}; "
                "every_ms defaults to 1000)"
            )

    @property
    def spec_id(self) -> str:
        return f"L{self.size_ms}/{self.every_ms}"

    @property
    def extent_ms(self) -> int:
        return self.size_ms

    @property
    def windows_per_reading(self) -> int:
        return 2  # its pane's window, then the pane's drop

    def runtime(self, slot: int, relative_accuracy: float) -> SlidingRuntime:
        return SlidingRuntime(self, slot, relative_accuracy)


class Panes:
    """A key's panes of one sliding spec, by start, and the end of the last pane emitted."""

    __slots__ = ("emitted", "panes")

    def __init__(self) -> None:
        self.panes: dict[int, Accumulator] = {}
        self.emitted = _NEVER


class SlidingRuntime:
    """A sliding spec in one partition: heaps of pane ends to emit and pane expiries to drop,
    each bucketed by time (a bucket holds ``(key, pane start)``)."""

    __slots__ = ("accuracy", "due", "expiring", "expiry", "pending", "size", "slot", "spec")

    def __init__(self, spec: Sliding, slot: int, relative_accuracy: float) -> None:
        self.spec = spec
        self.slot = slot
        self.size = spec.size_ms
        self.accuracy = relative_accuracy if spec.percentiles else None
        self.due: dict[int, list[tuple[PluginKey, int]]] = {}
        self.pending: list[int] = []  # heap of the ends in ``due``
        self.expiring: dict[int, list[tuple[PluginKey, int]]] = {}
        self.expiry: list[int] = []  # heap of the times in ``expiring``

    def new_slot(self) -> Panes:
        return Panes()

    def feed(  # noqa: PLR0917 - once per reading: positional on purpose
        self, key: PluginKey, ts: int, value: float, offset: int, arrival: int, watermark: int
    ) -> bool:
        every = self.spec.every_ms
        start = ts - ts % every
        end = start + every
        if end <= watermark:
            return True
        panes = key.ext[self.slot].panes
        acc = panes.get(start)
        if acc is None:
            sketch = None if self.accuracy is None else DDSketch(self.accuracy)
            panes[start] = Accumulator(ts, value, offset, arrival, sketch)
            self._arm(key, start, emit=True)
        else:
            acc.add(ts, value, arrival)
        return False

    def _arm(self, key: PluginKey, start: int, *, emit: bool) -> None:
        if emit:
            _file(self.due, self.pending, start + self.spec.every_ms, key, start)
        _file(self.expiring, self.expiry, start + self.size, key, start)

    def closable(self, watermark: int) -> bool:
        return bool(
            (self.pending and self.pending[0] <= watermark)
            or (self.expiry and self.expiry[0] <= watermark)
        )

    def close(self, watermark: int, budget: int | None, touch: Touch, emit: Emit) -> int | None:
        # Every window due first: a pane expiring at ``e`` is the oldest of the window ending
        # at ``e``.
        size, slot, symbol = self.size, self.slot, self.spec.symbol

        def emit_window(key: PluginKey, end: int, _start: int) -> None:
            state: Panes = key.ext[slot]
            state.emitted = end
            merged = _merge(state.panes, end - size, end, self.accuracy)
            emit(merged.offset, merged.rollup(key.device, key.sensor, symbol, end - size, end))

        def drop_pane(key: PluginKey, _at: int, start: int) -> None:
            key.ext[slot].panes.pop(start, None)

        budget = _drain(self.pending, self.due, watermark, budget, touch, emit_window)
        if budget == 0:
            return 0
        budget = _drain(self.expiry, self.expiring, watermark, budget, touch, drop_pane)
        return budget if budget is None or budget > 0 else 0

    def holds(self, key: PluginKey) -> bool:
        return bool(key.ext[self.slot].panes)

    def open_windows(self, key: PluginKey) -> Iterable[tuple[int, Accumulator]]:
        state: Panes = key.ext[self.slot]
        return state.panes.items()

    def save(self, key: PluginKey) -> tuple[list[int], list[float]] | None:
        return [key.ext[self.slot].emitted], []

    def restore(
        self,
        key: PluginKey,
        windows: list[tuple[int, Accumulator]],
        extra: tuple[list[int], list[float]] | None,
        watermark: int,
    ) -> None:
        state: Panes = key.ext[self.slot]
        # Without the saved end, a pane the watermark has passed counts as emitted: better a
        # missing window than one published twice with other values.
        state.emitted = extra[0][0] if extra and extra[0] else watermark
        for start, acc in windows:
            if self.accuracy is not None and acc.sketch is None:
                acc.sketch = DDSketch(self.accuracy)
            state.panes[start] = acc
            self._arm(key, start, emit=start + self.spec.every_ms > state.emitted)


def _file(
    buckets: dict[int, list[tuple[PluginKey, int]]],
    heap: list[int],
    at: int,
    key: PluginKey,
    start: int,
) -> None:
    bucket = buckets.get(at)
    if bucket is None:
        buckets[at] = bucket = []
        heappush(heap, at)
    bucket.append((key, start))


def _merge(panes: dict[int, Accumulator], lo: int, hi: int, accuracy: float | None) -> Accumulator:
    """A new accumulator of the panes starting in ``[lo, hi)`` (the panes stay as they are)."""
    merged: Accumulator | None = None
    for start in sorted(panes):
        if not lo <= start < hi:
            continue
        pane = panes[start]
        if merged is None:
            merged = copy.copy(pane)
            if pane.sketch is not None and accuracy is not None:
                merged.sketch = DDSketch(accuracy)
                merged.sketch.merge(pane.sketch)
        else:
            other = copy.copy(pane)  # merge() may rescale its argument
            merged.merge(other)
    if merged is None:  # pragma: no cover - the pane that made the window is in it
        raise RuntimeError(f"no pane in [{lo}, {hi})")
    return merged


def _drain(  # noqa: PLR0917 - the two close loops' shared walk
    heap: list[int],
    buckets: dict[int, list[tuple[PluginKey, int]]],
    watermark: int,
    budget: int | None,
    touch: Touch,
    act: Callable[[PluginKey, int, int], None],
) -> int | None:
    """``act(key, time, start)`` on each bucketed entry due at ``watermark``, at one close plus
    the key's ``touch`` cost each, until ``budget`` runs out (then 0; entries left stay)."""
    while heap and heap[0] <= watermark:
        at = heap[0]
        bucket = buckets[at]
        while bucket:
            if budget is not None:
                if budget <= 0:
                    return 0
                budget -= 1
            key, start = bucket.pop()
            cost = touch(key)
            if budget is not None:
                budget -= cost
            act(key, at, start)
        heappop(heap)
        del buckets[at]
    return budget
