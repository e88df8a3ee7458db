"""What a window kind provides: a spec (configuration) and, for plug-in kinds, a runtime.

Built-in kinds (tumbling, hopping, session) are run by loops inlined in
:mod:`telemetry.aggregate._partition` (the hot path); any other kind brings its own
:class:`WindowRuntime`, which the partition calls per reading and per close pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol

from telemetry.windows._accumulator import Accumulator, Rollup


class WindowSpec(Protocol):
    """A window specification read from configuration (a frozen dataclass)."""

    kind_name: ClassVar[str]
    """The ``kind`` of the spec in YAML (``processing.windows[i].kind``)."""
    symbol: ClassVar[str]
    """The ``window_kind`` of its rollups (a symbol of ``WindowKind`` in ``rollup.avsc``)."""
    fixed_size: ClassVar[bool]
    """Every rollup has the same ``window_size_ms`` (a session's varies)."""

    @property
    def percentiles(self) -> bool: ...

    @property
    def spec_id(self) -> str:
        """The spec's id in the changelog: windows saved under another id are not restored."""
        ...

    @property
    def extent_ms(self) -> int:
        """How long after a key's last reading its windows may still need it (state TTL)."""
        ...

    @property
    def windows_per_reading(self) -> int:
        """At most how many windows a reading opens (each costs a close later)."""
        ...


class PluginKey(Protocol):
    """The partition's record of one (device, sensor), as a plug-in runtime sees it."""

    device: str
    sensor: str
    ext: list[Any]
    """One slot per plug-in window runtime (``WindowRuntime.slot``), whatever it keeps there."""


Touch = Callable[[Any], int]
"""``touch(key)``: the runtime is about to change ``key``; returns the close budget it cost."""
Emit = Callable[[int, Rollup], None]
"""``emit(offset, rollup)``: publish a rollup that holds input ``offset`` until delivered."""


class WindowRuntime(Protocol):
    """One plug-in spec's state in one aggregation partition (see :meth:`PluginSpec.runtime`)."""

    slot: int

    def new_slot(self) -> Any:
        """The per-key state of a new key (stored in ``key.ext[slot]``)."""
        ...

    def feed(  # noqa: PLR0917 - once per reading: positional on purpose
        self, key: Any, ts: int, value: float, offset: int, arrival: int, watermark: int
    ) -> bool:
        """Apply a reading; True when it is late for this spec (dropped from it)."""
        ...

    def closable(self, watermark: int) -> bool:
        """Some work is due at ``watermark`` (a close pass would emit or drop something)."""
        ...

    def close(self, watermark: int, budget: int | None, touch: Touch, emit: Emit) -> int | None:
        """Emit what ``watermark`` has passed, at most ``budget`` windows (None: no limit);
        returns the budget left (0: stopped for want of budget)."""
        ...

    def holds(self, key: Any) -> bool:
        """``key`` still keeps windows of this spec (it must not be evicted)."""
        ...

    def open_windows(self, key: Any) -> Iterable[tuple[int, Accumulator]]:
        """The windows ``key`` keeps, as (start, accumulator): saved and holding offsets."""
        ...

    def save(self, key: Any) -> tuple[list[int], list[float]] | None:
        """Extra per-key state beside the windows, for the changelog (None: none)."""
        ...

    def restore(
        self,
        key: Any,
        windows: list[tuple[int, Accumulator]],
        extra: tuple[list[int], list[float]] | None,
        watermark: int,
    ) -> None:
        """Put a key's saved windows and extra state back (``watermark``: the restored one)."""
        ...


class PluginSpec(WindowSpec, Protocol):
    """A spec of a kind that runs outside the partition's inlined loops."""

    def runtime(self, slot: int, relative_accuracy: float) -> WindowRuntime:
        """Fresh state of this spec for one partition; its per-key state is ``ext[slot]``."""
        ...
