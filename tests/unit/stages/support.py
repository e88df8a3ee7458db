"""Small stages shared by the engine tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from telemetry.stages import Dispatcher, Pipeline, Processor, Sink, Source, Supervision

T = TypeVar("T")


class ListSource(Source[T]):
    """Emits a list; ``batch`` caps each pull, ``rnd`` makes it return fewer at random."""

    def __init__(
        self,
        events: list[T],
        *,
        name: str = "src",
        batch: int | None = None,
        rnd: random.Random | None = None,
        dispatcher: Dispatcher | None = None,
        buffer_size: int = 10_000,
    ) -> None:
        super().__init__(name=name, dispatcher=dispatcher, buffer_size=buffer_size)
        self.events = events
        self.pos = 0
        self.batch = batch
        self.rnd = rnd
        self.pulls: list[int] = []
        self.demands: list[int] = []

    def pull(self, demand: int) -> list[T]:
        assert demand > 0
        self.pulls.append(demand)
        n = demand if self.batch is None else min(demand, self.batch)
        if self.rnd is not None:
            n = self.rnd.randint(0, n)
        out = self.events[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def on_demand(self, demand: int) -> None:
        self.demands.append(demand)

    def is_exhausted(self) -> bool:
        return self.pos >= len(self.events)


class MapProcessor(Processor[Any, Any]):
    def __init__(
        self,
        *,
        name: str,
        fn: Callable[[Any], Any] = lambda e: e,
        buffer_size: int = 10_000,
        dispatcher: Dispatcher | None = None,
        supervision: Supervision | None = None,
    ) -> None:
        super().__init__(
            name=name, buffer_size=buffer_size, dispatcher=dispatcher, supervision=supervision
        )
        self.fn = fn
        self.batches: list[int] = []
        self.restarts = 0

    def process(self, events: list[Any]) -> list[Any]:
        self.batches.append(len(events))
        return [self.fn(e) for e in events]

    def restart(self) -> None:
        self.restarts += 1


class ListSink(Sink[Any]):
    def __init__(self, *, name: str = "sink", supervision: Supervision | None = None) -> None:
        super().__init__(name=name, supervision=supervision)
        self.events: list[Any] = []
        self.batches: list[int] = []
        self.started = 0
        self.stopped = 0

    def write(self, events: list[Any]) -> None:
        self.batches.append(len(events))
        self.events.extend(events)

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1


class RandomAsker:
    """Manual demand at a random pace, never beyond ``max_demand`` outstanding plus inbox."""

    def grant(self, stage: Processor[Any, Any] | Sink[Any], rnd: random.Random) -> None:
        for sub in stage.subscriptions:
            room = sub.max_demand - sub.demand - sub.buffered
            if room > 0:
                stage.ask(rnd.randint(0, room), sub.producer)


class SlowSink(ListSink, RandomAsker):
    def __init__(self, *, name: str, rnd: random.Random) -> None:
        super().__init__(name=name)
        self.rnd = rnd

    def wait(self, timeout: float) -> None:
        del timeout
        self.grant(self, self.rnd)


class SlowProcessor(MapProcessor, RandomAsker):
    def __init__(self, *, name: str, rnd: random.Random, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.rnd = rnd

    def wait(self, timeout: float) -> None:
        del timeout
        self.grant(self, self.rnd)


def check_invariants(pipeline: Pipeline) -> None:
    """Demand and buffer bounds that must hold after every pass."""
    for sub in pipeline.subscriptions:
        assert sub.demand >= 0, sub
        assert sub.demand + sub.buffered <= sub.max_demand, sub
        if not sub.manual:
            assert sub.demand + sub.buffered + sub.handled_unasked == sub.max_demand, sub
    for stage in pipeline.stages:
        if isinstance(stage, Source | Processor):
            assert pipeline.output_buffered(stage) <= stage.buffer_size, stage


def run_to_end(pipeline: Pipeline, *, max_passes: int = 20_000) -> int:
    """Run passes (never blocking) until sources are exhausted and everything is delivered."""
    pipeline.start()
    for passes in range(max_passes):
        pipeline.run_once(idle_timeout=0)
        check_invariants(pipeline)
        sources_done = all(s.is_exhausted() for s in pipeline.stages if isinstance(s, Source))
        if sources_done and pipeline.is_idle():
            return passes
    raise AssertionError(f"pipeline did not finish within {max_passes} passes")
