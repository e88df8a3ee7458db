"""The scheduler: one thread, demand-driven passes over the stage graph in topological order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from telemetry.errors import StageError
from telemetry.metrics import PipelineMetrics, StageMetrics
from telemetry.stages._dispatchers import Dispatcher
from telemetry.stages._stage import Processor, Sink, Source, Stage, _Consumer, _Producer
from telemetry.stages._subscription import Subscription
from telemetry.stages._supervision import Supervisor

logger = logging.getLogger("telemetry.stages")

T = TypeVar("T")

_SOURCE, _PROCESSOR, _SINK = "source", "processor", "sink"


class _Node:
    """Runtime record of one stage; built by ``start`` so the hot path reads plain slots."""

    __slots__ = (
        "buffer_size",
        "dispatcher",
        "kind",
        "last_demand",
        "metrics",
        "next_tick",
        "stage",
        "subs_in",
        "supervisor",
    )

    def __init__(self, stage: Stage, kind: str, supervisor: Supervisor, metrics: StageMetrics):
        self.stage = stage
        self.kind = kind
        self.supervisor = supervisor
        self.metrics = metrics
        self.subs_in: list[Subscription] = (
            stage.subscriptions if isinstance(stage, _Consumer) else []
        )
        self.dispatcher: Dispatcher | None = (
            stage.dispatcher if isinstance(stage, _Producer) else None
        )
        self.buffer_size = stage.buffer_size if isinstance(stage, _Producer) else 0
        self.last_demand = -1
        self.next_tick = 0.0

    def out(self) -> Dispatcher:
        assert self.dispatcher is not None  # noqa: S101 - producers always have one
        return self.dispatcher


class Pipeline:
    """A graph of stages joined by subscriptions, driven by :meth:`run_once`/:meth:`run`.

    ``idle_timeout`` bounds how long one idle pass blocks in stages' ``wait``; ``clock`` drives
    ticks and restart windows (deadlines of ``drain`` always use the real monotonic clock).
    ``request_stop``/``request_drain`` only set flags, so they are safe in a signal handler.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        idle_timeout: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._metrics = PipelineMetrics(self.registry)
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._stages: dict[str, Stage] = {}
        self._subs: list[Subscription] = []
        self._order: list[_Node] = []
        self._nodes: dict[str, _Node] = {}
        self._io: list[_Node] = []
        self._ticking: list[_Node] = []
        self._started = False
        self._draining = False
        self._stop_requested = False
        self._drain_requested: float | None = None

    # -- building -------------------------------------------------------------------------------

    def add(self, *stages: Stage) -> None:
        for stage in stages:
            known = self._stages.get(stage.name)
            if known is stage:
                continue
            if known is not None:
                raise ValueError(f"duplicate stage name {stage.name!r}")
            if self._started:
                raise RuntimeError("cannot add stages to a started pipeline")
            self._stages[stage.name] = stage

    def subscribe(
        self,
        consumer: Processor[T, Any] | Sink[T],
        producer: Source[T] | Processor[Any, T],
        *,
        max_demand: int = 1000,
        min_demand: int = 500,
        partition: int | None = None,
        manual: bool = False,
    ) -> Subscription:
        """Subscribe ``consumer`` to ``producer``; ``manual`` leaves asking to the consumer."""
        if self._started:
            raise RuntimeError("cannot subscribe in a started pipeline")
        if consumer is producer:
            raise ValueError("a stage cannot subscribe to itself")
        self.add(producer, consumer)
        sub = Subscription(
            producer,
            consumer,
            max_demand=max_demand,
            min_demand=min_demand,
            partition=partition,
            manual=manual,
        )
        producer.dispatcher.subscribe(sub)
        consumer.subscriptions.append(sub)
        self._subs.append(sub)
        return sub

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(self._stages.values())

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)

    def output_buffered(self, stage: Stage) -> int:
        """Events in ``stage``'s output buffer (0 for a sink)."""
        return stage.dispatcher.buffered if isinstance(stage, _Producer) else 0

    # -- lifecycle ------------------------------------------------------------------------------

    def _topological(self) -> list[Stage]:
        indegree = dict.fromkeys(self._stages, 0)
        for sub in self._subs:
            indegree[sub.consumer.name] += 1
        ready = [s for s in self._stages.values() if indegree[s.name] == 0]
        order: list[Stage] = []
        while ready:
            stage = ready.pop(0)
            order.append(stage)
            for sub in self._subs:
                if sub.producer is stage:
                    indegree[sub.consumer.name] -= 1
                    if indegree[sub.consumer.name] == 0:
                        ready.append(sub.consumer)
        if len(order) != len(self._stages):
            raise ValueError("the stage graph has a cycle")
        return order

    def start(self) -> None:
        if self._started:
            return
        nodes: list[_Node] = []
        for stage in self._topological():
            kind = (
                _SOURCE
                if isinstance(stage, Source)
                else _PROCESSOR
                if isinstance(stage, Processor)
                else _SINK
            )
            supervisor = Supervisor(stage.name, stage.supervision, self._clock)
            metrics = self._metrics.for_stage(stage.name)
            supervisor.metrics = metrics
            nodes.append(_Node(stage, kind, supervisor, metrics))
        self._order = nodes
        self._nodes = {n.stage.name: n for n in nodes}
        # Only stages that override wait() cost a call per pass.
        self._io = [n for n in nodes if type(n.stage).wait is not Stage.wait]
        self._ticking = [
            n for n in nodes if isinstance(n.stage, Processor) and n.stage.tick_interval
        ]
        now = self._clock()
        for node in self._ticking:
            node.next_tick = now + (getattr(node.stage, "tick_interval", 0.0) or 0.0)
        started: list[Stage] = []
        self._started = True
        try:
            for node in reversed(nodes):  # consumers first, so they are ready for events
                node.stage.start()
                started.append(node.stage)
        except Exception as exc:
            for stage in started:
                self._stop_stage(stage)
            self._started = False
            raise StageError(f"stage {node.stage.name!r} failed to start: {exc}") from exc
        self._update_gauges()

    def stop(self) -> None:
        """Stop every stage (sources first); idempotent. Does not finish in-flight work."""
        if not self._started:
            return
        self._started = False
        for node in self._order:
            self._stop_stage(node.stage)
        self._update_gauges()

    def _stop_stage(self, stage: Stage) -> None:
        try:
            stage.stop()
        except Exception:
            logger.exception("stage %s failed to stop", stage.name)

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def request_stop(self) -> None:
        """Ask ``run`` to stop after the current pass (signal-handler safe: sets a flag)."""
        self._stop_requested = True

    def request_drain(self, timeout: float = 30.0) -> None:
        """Ask ``run`` to drain and stop (signal-handler safe: sets a flag)."""
        self._drain_requested = timeout

    def is_quiet(self) -> bool:
        """Nothing in any inbox or output buffer (in flight does not count): every event a
        stage emitted has reached the end of the graph."""
        for sub in self._subs:
            if sub.inbox.count:
                return False
        for node in self._order:
            if node.dispatcher is not None and node.dispatcher.buffered:
                return False
        return True

    def is_idle(self) -> bool:
        """Nothing in any inbox or output buffer and nothing in flight."""
        for sub in self._subs:
            if sub.inbox.count:
                return False
        for node in self._order:
            if node.dispatcher is not None and node.dispatcher.buffered:
                return False
            if node.stage.in_flight():
                return False
        return True

    def _sources_done(self) -> bool:
        for node in self._order:
            if node.kind is _SOURCE and not node.stage.is_exhausted():  # type: ignore[attr-defined]
                return False
        return True

    def run(self, until: Callable[[], bool] | threading.Event | None = None) -> None:
        """Run passes until ``until`` holds (or, without it, every source is exhausted and the
        pipeline is idle). After ``request_stop``/``request_drain`` or an escalation the stages
        are stopped before returning/raising; otherwise they keep running state for later calls.
        """
        check = until.is_set if isinstance(until, threading.Event) else until
        self.start()
        try:
            while True:
                if self._stop_requested:
                    self._stop_requested = False
                    self.stop()
                    return
                if self._drain_requested is not None:
                    timeout, self._drain_requested = self._drain_requested, None
                    self.drain(timeout)
                    return
                if check is not None:
                    if check():
                        return
                elif self._sources_done() and self.is_idle():
                    return
                self.run_once()
        except StageError:
            self.stop()
            raise

    def drain(self, timeout: float = 30.0) -> bool:
        """Stop pulling from sources, finish everything in inboxes, buffers and in flight, then
        stop the stages. Returns False if ``timeout`` expired first (stages are stopped anyway).
        """
        self.start()
        self._draining = True
        deadline = time.monotonic() + timeout
        try:
            while not self.is_idle():
                if self._stop_requested:  # asked again (a second SIGTERM): stop now
                    self._stop_requested = False
                    logger.warning("drain interrupted by a stop request with work left")
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("drain timed out after %gs with work left", timeout)
                    return False
                self.run_once(idle_timeout=min(self.idle_timeout, remaining))
            return True
        finally:
            self._draining = False
            self.stop()

    # -- the scheduler --------------------------------------------------------------------------

    def run_once(self, idle_timeout: float | None = None) -> bool:
        """One pass: move events wherever demand allows (sources to sinks), run due ticks, then
        service I/O. Returns whether any event moved. Blocks up to ``idle_timeout`` (default:
        the pipeline's) only when nothing moved.
        """
        if not self._started:
            raise RuntimeError("pipeline is not started")
        progress = False
        for node in self._order:
            kind = node.kind
            if kind is _PROCESSOR:
                moved = self._step_processor(node)
            elif kind is _SINK:
                moved = self._step_sink(node)
            else:
                moved = self._step_source(node)
            progress = progress or moved
        if self._ticking and self._tick():
            progress = True
        self._update_gauges()
        self._service_io(progress, self.idle_timeout if idle_timeout is None else idle_timeout)
        return progress

    def _step_source(self, node: _Node) -> bool:
        stage: Source[Any] = node.stage  # type: ignore[assignment]
        disp = node.out()
        progress = disp.dispatch() > 0
        if self._draining or stage.is_exhausted():
            demand = 0
        else:
            demand = min(node.buffer_size - disp.buffered, disp.wanted())
            demand = max(demand, 0)
        if demand != node.last_demand:
            node.last_demand = demand
            try:
                stage.on_demand(demand)
            except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
                self._recover(node, "on_demand", exc)
        if demand == 0:
            return progress
        try:
            events = stage.pull(demand)
        except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
            # Nothing was emitted, so there is no batch to retry: restart and pull again later.
            self._recover(node, "pull", exc)
            return progress
        n = len(events)
        if not n:
            return progress
        if n > demand:
            node.supervisor.escalate("pull", None, f"returned {n} events for a demand of {demand}")
        node.metrics.events_out.inc(n)
        disp.push(events)
        disp.dispatch()
        return True

    def _step_processor(self, node: _Node) -> bool:
        stage: Processor[Any, Any] = node.stage  # type: ignore[assignment]
        disp = node.out()
        progress = disp.dispatch() > 0
        size = node.buffer_size
        metrics = node.metrics
        for sub in node.subs_in:
            inbox = sub.inbox
            while inbox.count:
                room = size - disp.buffered
                if room <= 0:
                    return progress
                batch = inbox.take(room)
                try:
                    out = stage.process(batch)
                except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
                    out = self._recover(node, "process", exc, stage.process, batch)
                n = len(batch)
                metrics.events_in.inc(n)
                sub.handled(n)
                if out:
                    metrics.events_out.inc(len(out))
                    disp.push(out)
                    disp.dispatch()
                progress = True
        return progress

    def _step_sink(self, node: _Node) -> bool:
        stage: Sink[Any] = node.stage  # type: ignore[assignment]
        progress = False
        for sub in node.subs_in:
            inbox = sub.inbox
            if inbox.count:
                batch = inbox.take(inbox.count)
                try:
                    stage.write(batch)
                except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
                    self._recover(node, "write", exc, stage.write, batch)
                n = len(batch)
                node.metrics.events_in.inc(n)
                sub.handled(n)
                progress = True
        return progress

    def _tick(self) -> bool:
        now = self._clock()
        progress = False
        for node in self._ticking:
            disp = node.out()
            # A full output buffer defers the tick: its output would have nowhere to go.
            if now < node.next_tick or disp.buffered >= node.buffer_size:
                continue
            stage: Processor[Any, Any] = node.stage  # type: ignore[assignment]
            node.next_tick = now + (stage.tick_interval or 0.0)
            try:
                out = stage.on_tick(now)
            except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
                self._recover(node, "on_tick", exc)
                continue
            if stage.tick_pending():
                node.next_tick = now
            if out:
                node.metrics.events_out.inc(len(out))
                disp.push(out)
                disp.dispatch()
                progress = True
        return progress

    def _service_io(self, progress: bool, timeout: float) -> None:
        io = self._io
        if progress or timeout <= 0:
            for node in io:
                self._wait(node, 0.0)
            return
        if self._ticking:
            next_tick = min(n.next_tick for n in self._ticking)
            timeout = max(0.0, min(timeout, next_tick - self._clock()))
        # Stages with in-flight I/O (a sink awaiting delivery reports) get the idle slice first:
        # their progress is what unblocks the graph. Otherwise the sources wait for input.
        blockers = [n for n in io if n.stage.in_flight() > 0]
        if not blockers and not self._draining:
            blockers = [
                n
                for n in io
                if n.kind is _SOURCE and not n.stage.is_exhausted()  # type: ignore[attr-defined]
            ]
        if not blockers:
            for node in io:
                self._wait(node, 0.0)
            if timeout > 0:
                time.sleep(timeout)  # nothing to block on; avoid a busy spin
            return
        share = timeout / len(blockers)
        for node in io:
            self._wait(node, share if node in blockers else 0.0)

    def _wait(self, node: _Node, timeout: float) -> None:
        try:
            node.stage.wait(timeout)
        except Exception as exc:  # noqa: BLE001 - supervision logs it or escalates
            self._recover(node, "wait", exc)

    def _recover(
        self,
        node: _Node,
        where: str,
        exc: Exception,
        retry: Callable[[list[Any]], Any] | None = None,
        batch: list[Any] | None = None,
    ) -> Any:
        """Apply the stage's policy; retry the failed batch once after a restart.

        A batch that fails again after the restart is escalated rather than dropped.
        """
        node.supervisor.failed(where, exc, node.stage.restart)
        if retry is None or batch is None:
            return None
        try:
            return retry(batch)
        except Exception as again:  # noqa: BLE001 - escalated with its cause just below
            node.supervisor.escalate(where, again, "failed batch failed again after restart")

    def _update_gauges(self) -> None:
        for node in self._order:
            buffered = node.dispatcher.buffered if node.dispatcher is not None else 0
            demand = 0
            for sub in node.subs_in:
                buffered += sub.inbox.count
                demand += sub.demand
            node.metrics.buffered.set(buffered)
            node.metrics.demand.set(demand)
