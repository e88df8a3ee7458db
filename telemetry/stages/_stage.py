"""Stage base classes: subclass Source, Processor or Sink and override the callbacks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from telemetry.stages._dispatchers import DemandDispatcher, Dispatcher
from telemetry.stages._subscription import Subscription
from telemetry.stages._supervision import Supervision

In = TypeVar("In")
Out = TypeVar("Out")

DEFAULT_BUFFER_SIZE = 10_000


class Stage(ABC):  # noqa: B024 - abstract by role; the callbacks live in the subclasses
    """Common lifecycle and I/O hooks. All callbacks run on the pipeline's one thread."""

    def __init__(self, *, name: str, supervision: Supervision | None = None) -> None:
        if not name:
            raise ValueError("a stage needs a non-empty name")
        self.name = name
        self.supervision = supervision if supervision is not None else Supervision()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Called once by ``Pipeline.start`` before any event moves."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Called once by ``Pipeline.stop``/``drain``; release clients here."""

    def restart(self) -> None:
        """Called by the ``restart`` supervision policy after a failure; reset state here."""
        self.stop()
        self.start()

    def wait(self, timeout: float) -> None:  # noqa: B027 - optional hook
        """Service I/O, blocking at most ``timeout`` seconds (0 = just poll).

        The scheduler calls this with 0 after every pass that moved events, and with the idle
        slice when nothing could move: stages with ``in_flight() > 0`` are waited on first,
        otherwise sources are. Only stages that override it are called.
        """

    def in_flight(self) -> int:
        """Events accepted but not yet durable (e.g. awaiting delivery reports). Drain waits
        until this is 0 everywhere."""
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _Producer(Stage):
    def __init__(
        self,
        *,
        name: str,
        dispatcher: Dispatcher | None,
        buffer_size: int,
        supervision: Supervision | None,
    ) -> None:
        super().__init__(name=name, supervision=supervision)
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        self.dispatcher = dispatcher if dispatcher is not None else DemandDispatcher()
        self.dispatcher.bind(name)
        self.buffer_size = buffer_size


class _Consumer(Stage):
    def __init__(self, *, name: str, supervision: Supervision | None) -> None:
        super().__init__(name=name, supervision=supervision)
        self.subscriptions: list[Subscription] = []

    def ask(self, n: int, producer: Stage | None = None) -> None:
        """Add ``n`` to the demand of a manual-demand subscription (GenStage ``ask``).

        ``producer`` picks the subscription when the stage has more than one.
        """
        subs = [s for s in self.subscriptions if producer is None or s.producer is producer]
        if len(subs) != 1:
            raise ValueError(
                f"stage {self.name!r}: ask() matches {len(subs)} subscriptions; pass producer="
            )
        sub = subs[0]
        if not sub.manual:
            raise ValueError(f"stage {self.name!r}: ask() on an automatic-demand subscription")
        sub.ask(n)


class Source(_Producer, Generic[Out]):
    """Producer stage.

    The engine calls ``on_demand(d)`` whenever the demand it may satisfy changes (including to 0
    when downstream is full or the pipeline drains), then ``pull(d)`` when ``d > 0``. ``pull``
    must not block and returns at most ``d`` events (fewer, or none, is fine). ``wait`` is where
    a source blocks for input when the pipeline is idle.
    """

    def __init__(
        self,
        *,
        name: str,
        dispatcher: Dispatcher | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        supervision: Supervision | None = None,
    ) -> None:
        super().__init__(
            name=name, dispatcher=dispatcher, buffer_size=buffer_size, supervision=supervision
        )

    @abstractmethod
    def pull(self, demand: int) -> list[Out]:
        """Return at most ``demand`` events without blocking."""

    def on_demand(self, demand: int) -> None:
        """The demand this source may satisfy changed to ``demand`` (pause/resume input here)."""

    def is_exhausted(self) -> bool:
        """True when this source will never produce again (finite inputs, tests)."""
        return False


class Processor(_Consumer, _Producer, Generic[In, Out]):
    """Producer-consumer stage.

    ``process`` is called with inbox events only while the output buffer has room, and with at
    most that room; it may return more or fewer events than given. ``on_tick(now)`` is called
    every ``tick_interval`` seconds of the pipeline clock when set (idle clocks for windows).
    Treat the input list as read-only.
    """

    def __init__(
        self,
        *,
        name: str,
        dispatcher: Dispatcher | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        supervision: Supervision | None = None,
        tick_interval: float | None = None,
    ) -> None:
        _Producer.__init__(
            self, name=name, dispatcher=dispatcher, buffer_size=buffer_size, supervision=supervision
        )
        self.subscriptions = []
        if tick_interval is not None and tick_interval <= 0:
            raise ValueError(f"tick_interval must be > 0, got {tick_interval}")
        self.tick_interval = tick_interval

    @abstractmethod
    def process(self, events: list[In]) -> list[Out]:
        """Transform a batch."""

    def on_tick(self, now: float) -> list[Out]:
        """Periodic callback; return events to emit."""
        del now
        return []

    def tick_pending(self) -> bool:
        """After ``on_tick``: True to be ticked again on the next pass rather than after
        ``tick_interval`` (work was left for later to keep each pass short)."""
        return False


class Sink(_Consumer, Generic[In]):
    """Consumer stage. ``write`` gets every inbox event, in order, batch by batch.

    With ``subscribe(..., manual=True)`` the sink itself grants demand with ``self.ask(n)``
    (e.g. from ``start`` and from ``wait`` as delivery reports free room).
    """

    def __init__(self, *, name: str, supervision: Supervision | None = None) -> None:
        super().__init__(name=name, supervision=supervision)

    @abstractmethod
    def write(self, events: list[In]) -> None:
        """Consume a batch."""
