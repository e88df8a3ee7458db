"""Rules of the stage engine, one test per rule."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from telemetry.errors import StageError
from telemetry.stages import (
    BroadcastDispatcher,
    DemandDispatcher,
    PartitionDispatcher,
    Pipeline,
    Processor,
    Sink,
    Supervision,
)
from tests.unit.stages.support import (
    ListSink,
    ListSource,
    MapProcessor,
    check_invariants,
    run_to_end,
)

# -- demand -------------------------------------------------------------------------------------


def test_consumer_asks_max_demand_then_re_asks_after_max_minus_min() -> None:
    src = ListSource(list(range(100)), batch=3)
    sink = ListSink()
    p = Pipeline()
    sub = p.subscribe(sink, src, max_demand=10, min_demand=4)
    assert sub.demand == 10
    p.start()
    for _ in range(3):
        p.run_once(idle_timeout=0)
        check_invariants(p)
    # 3 handled (< 10 - 4): no re-ask, 7 left; 6 handled: re-ask 6, back to 10.
    assert src.pulls == [10, 7, 10]
    assert sub.demand == 7
    assert sub.handled_unasked == 3


def test_defaults_are_genstage_1000_500() -> None:
    p = Pipeline()
    sub = p.subscribe(ListSink(), ListSource([1]))
    assert (sub.max_demand, sub.min_demand, sub.demand) == (1000, 500, 1000)


@pytest.mark.parametrize(("max_demand", "min_demand"), [(0, 0), (10, 10), (10, -1), (5, 6)])
def test_invalid_demand_bounds_are_rejected(max_demand: int, min_demand: int) -> None:
    with pytest.raises(ValueError, match="max_demand"):
        Pipeline().subscribe(
            ListSink(), ListSource([1]), max_demand=max_demand, min_demand=min_demand
        )


def test_source_is_pulled_only_for_downstream_demand() -> None:
    src = ListSource(list(range(1000)))
    sink = ListSink()
    p = Pipeline()
    p.subscribe(sink, src, max_demand=8, min_demand=0)
    p.start()
    p.run_once(idle_timeout=0)
    assert src.pulls == [8]
    assert sink.batches == [8]
    run_to_end(p)
    assert all(d <= 8 for d in src.pulls)
    assert sink.events == list(range(1000))


def test_source_returning_more_than_demand_escalates() -> None:
    class Greedy(ListSource[int]):
        def is_exhausted(self) -> bool:
            return False

        def pull(self, demand: int) -> list[int]:
            return list(range(demand + 1))

    p = Pipeline()
    p.subscribe(ListSink(), Greedy([]), max_demand=4, min_demand=2)
    p.start()
    with pytest.raises(StageError, match="returned 5 events for a demand of 4"):
        p.run_once(idle_timeout=0)


def test_on_demand_reports_changes_including_zero_when_downstream_is_full() -> None:
    src = ListSource(list(range(100)), buffer_size=3)
    sink = ListSink()
    p = Pipeline()
    sub = p.subscribe(sink, src, max_demand=5, min_demand=0, manual=True)
    p.start()
    p.run_once(idle_timeout=0)
    sink.ask(2)
    p.run_once(idle_timeout=0)
    assert src.demands == [0, 2]
    assert src.pulls == [2]
    assert sink.events == [0, 1]
    assert sub.demand == 0
    p.run_once(idle_timeout=0)
    assert src.demands == [0, 2, 0]


def test_manual_demand_only_moves_what_the_consumer_asked() -> None:
    src = ListSource(list(range(50)))
    sink = ListSink()
    p = Pipeline()
    sub = p.subscribe(sink, src, manual=True)
    assert sub.demand == 0
    p.start()
    p.run_once(idle_timeout=0)
    assert src.pulls == []
    sink.ask(5)
    p.run_once(idle_timeout=0)
    p.run_once(idle_timeout=0)
    assert sink.events == [0, 1, 2, 3, 4]
    assert sub.demand == 0  # handled events are not re-asked in manual mode
    sink.ask(45)
    p.run_once(idle_timeout=0)
    assert sink.events == list(range(50))


def test_ask_is_refused_on_automatic_or_ambiguous_subscriptions() -> None:
    a, b = ListSource([1], name="a"), ListSource([2], name="b")
    sink = ListSink()
    p = Pipeline()
    p.subscribe(sink, a, manual=True)
    p.subscribe(sink, b)
    with pytest.raises(ValueError, match="pass producer="):
        sink.ask(1)
    with pytest.raises(ValueError, match="automatic-demand"):
        sink.ask(1, b)
    sink.ask(1, a)
    assert p.subscriptions[0].demand == 1


# -- dispatchers --------------------------------------------------------------------------------


def test_demand_dispatcher_sends_to_the_subscriber_with_most_demand() -> None:
    src = ListSource(list(range(5)), dispatcher=DemandDispatcher())
    small, big = ListSink(name="small"), ListSink(name="big")
    p = Pipeline()
    p.subscribe(small, src, manual=True)
    p.subscribe(big, src, manual=True)
    small.ask(3)
    big.ask(7)
    p.start()
    p.run_once(idle_timeout=0)
    assert big.events == [0, 1, 2, 3, 4]
    assert small.events == []


def test_partition_dispatcher_keeps_keys_together_and_in_order() -> None:
    rnd = random.Random(7)
    events = [(rnd.choice("abcdefgh"), i) for i in range(2000)]
    src = ListSource(
        events, batch=37, dispatcher=PartitionDispatcher(partitions=3, key=lambda e: e[0])
    )
    sinks = [ListSink(name=f"p{i}") for i in range(3)]
    p = Pipeline()
    for i, sink in enumerate(sinks):
        p.subscribe(sink, src, partition=i, max_demand=50, min_demand=10)
    run_to_end(p)
    owner: dict[str, int] = {}
    for i, sink in enumerate(sinks):
        seqs = [seq for _, seq in sink.events]
        assert seqs == sorted(seqs)
        for key, _ in sink.events:
            assert owner.setdefault(key, i) == i
            assert hash(key) % 3 == i
    assert sorted(e for s in sinks for e in s.events) == sorted(events)


def test_partition_dispatcher_validates_partitions() -> None:
    disp = PartitionDispatcher(partitions=2, key=lambda e: e)
    src = ListSource([1], dispatcher=disp)
    p = Pipeline()
    with pytest.raises(ValueError, match="partition"):
        p.subscribe(ListSink(name="x"), src)
    p.subscribe(ListSink(name="y"), src, partition=0)
    with pytest.raises(ValueError, match="already has a subscriber"):
        p.subscribe(ListSink(name="z"), src, partition=0)
    with pytest.raises(ValueError, match="only valid for a PartitionDispatcher"):
        p.subscribe(ListSink(name="w"), ListSource([1], name="s2"), partition=0)


def test_broadcast_dispatcher_gives_everyone_everything_at_the_slowest_pace() -> None:
    src = ListSource(list(range(30)), dispatcher=BroadcastDispatcher())
    fast, slow = ListSink(name="fast"), ListSink(name="slow")
    p = Pipeline()
    p.subscribe(fast, src, max_demand=10, min_demand=5)
    p.subscribe(slow, src, manual=True)
    slow.ask(4)
    p.start()
    for _ in range(3):
        p.run_once(idle_timeout=0)
    assert fast.events == slow.events == [0, 1, 2, 3]
    slow.ask(100)
    run_to_end(p)
    assert fast.events == slow.events == list(range(30))


# -- bounded buffers ----------------------------------------------------------------------------


def test_processor_stops_when_its_output_buffer_is_full() -> None:
    src = ListSource(list(range(1000)))
    proc = MapProcessor(name="proc", buffer_size=5)
    sink = ListSink()
    p = Pipeline()
    p.subscribe(proc, src, max_demand=20, min_demand=10)
    p.subscribe(sink, proc, manual=True)  # never asks: everything backs up
    p.start()
    for _ in range(10):
        p.run_once(idle_timeout=0)
        check_invariants(p)
    assert p.output_buffered(proc) == 5
    assert p.subscriptions[0].buffered == 15  # 20 asked, 5 processed into the full buffer
    assert src.pos == 20
    assert p.registry.get_sample_value("telemetry_stage_buffered_events", {"stage": "proc"}) == 20


# -- drain and lifecycle ------------------------------------------------------------------------


class AckingSink(Sink[int]):
    """Manual demand over an in-flight window; every ``ack_every``-th wait() acks one batch."""

    def __init__(self, window: int, *, ack_every: int = 1) -> None:
        super().__init__(name="acking")
        self.window = window
        self.ack_every = ack_every
        self.pending: list[list[int]] = []
        self.acked: list[int] = []
        self.waits: list[float] = []

    def start(self) -> None:
        self.ask(self.window)

    def write(self, events: list[int]) -> None:
        self.pending.append(events)

    def wait(self, timeout: float) -> None:
        self.waits.append(timeout)
        if self.pending and len(self.waits) % self.ack_every == 0:
            batch = self.pending.pop(0)
            self.acked.extend(batch)
            self.ask(len(batch))

    def in_flight(self) -> int:
        return sum(map(len, self.pending))


def test_drain_stops_sources_and_finishes_in_flight_work() -> None:
    src = ListSource(list(range(10_000)), batch=7)
    proc = MapProcessor(name="proc")
    sink = AckingSink(window=25, ack_every=2)
    p = Pipeline()
    p.subscribe(proc, src, max_demand=30, min_demand=10)
    p.subscribe(sink, proc, manual=True)
    p.start()
    for _ in range(5):
        p.run_once(idle_timeout=0)
    pulled = src.pos
    assert sink.in_flight() > 0
    assert p.drain(timeout=5.0) is True
    assert src.pos == pulled  # no pull after drain began
    assert sink.acked == list(range(pulled))
    assert sink.in_flight() == 0
    with pytest.raises(RuntimeError, match="not started"):
        p.run_once()


def test_drain_times_out_when_work_cannot_finish() -> None:
    # Partition 1 has no subscriber, so its buffered events can never be delivered.
    src = ListSource(list(range(10)), dispatcher=PartitionDispatcher(partitions=2, key=int))
    sink = ListSink()
    p = Pipeline()
    p.subscribe(sink, src, partition=0)
    p.start()
    p.run_once(idle_timeout=0)
    assert p.output_buffered(src) == 5
    assert p.drain(timeout=0.05) is False
    assert sink.events == [0, 2, 4, 6, 8]
    assert sink.stopped == 1


def test_a_stop_request_ends_a_drain_at_once() -> None:
    """A second SIGTERM (``request_stop``) during a drain that cannot finish: the drain ends
    after the current pass instead of waiting out its timeout."""
    src = ListSource(list(range(10)), dispatcher=PartitionDispatcher(partitions=2, key=int))
    sink = ListSink()
    p = Pipeline()
    p.subscribe(sink, src, partition=0)
    p.start()
    p.run_once(idle_timeout=0)
    timer = threading.Timer(0.2, p.request_stop)
    timer.start()
    started = time.monotonic()
    try:
        assert p.drain(timeout=30.0) is False
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5.0
    assert sink.stopped == 1


def test_idle_wait_goes_to_the_stage_with_in_flight_work() -> None:
    class WaitingSource(ListSource[int]):
        def __init__(self) -> None:
            super().__init__([], name="waiting")
            self.waits: list[float] = []

        def is_exhausted(self) -> bool:
            return False

        def wait(self, timeout: float) -> None:
            self.waits.append(timeout)

    src = WaitingSource()
    sink = AckingSink(window=4)
    p = Pipeline(idle_timeout=0.01)
    p.subscribe(sink, src, manual=True)
    p.start()
    sink.pending.append([1, 2])
    p.run_once()
    assert sink.waits == [0.01]
    assert src.waits == [0.0]
    p.run_once()  # nothing in flight now: the source gets the idle slice
    assert src.waits == [0.0, 0.01]
    assert sink.waits == [0.01, 0.0]


def test_run_returns_when_sources_are_exhausted_and_request_stop_stops() -> None:
    sink = ListSink()
    p = Pipeline()
    p.subscribe(sink, ListSource(list(range(100)), batch=9), max_demand=10, min_demand=5)
    p.run()
    assert sink.events == list(range(100))
    assert sink.stopped == 0

    class StoppingSink(ListSink):
        def __init__(self, pipeline: Pipeline) -> None:
            super().__init__(name="stopping")
            self.pipeline = pipeline

        def write(self, events: list[Any]) -> None:
            super().write(events)
            self.pipeline.request_stop()

    q = Pipeline()
    stopping = StoppingSink(q)
    q.subscribe(stopping, ListSource(list(range(100))), max_demand=10, min_demand=5)
    q.run(until=threading.Event())
    assert stopping.events == list(range(10))
    assert stopping.stopped == 1


def test_ticks_follow_the_pipeline_clock() -> None:
    now = [100.0]

    class Clocked(Processor[int, str]):
        def process(self, events: list[int]) -> list[str]:
            return [str(e) for e in events]

        def on_tick(self, now: float) -> list[str]:
            return [f"tick@{now:g}"]

    proc = Clocked(name="clocked", tick_interval=5.0)
    sink = ListSink()
    p = Pipeline(clock=lambda: now[0])
    p.subscribe(proc, ListSource([1]))
    p.subscribe(sink, proc)
    p.start()
    p.run_once(idle_timeout=0)
    now[0] = 104.0
    p.run_once(idle_timeout=0)
    assert sink.events == ["1"]
    now[0] = 105.0
    p.run_once(idle_timeout=0)
    p.run_once(idle_timeout=0)
    assert sink.events == ["1", "tick@105"]


def test_a_stage_with_tick_work_left_is_ticked_on_the_next_pass() -> None:
    now = [100.0]

    class Chunked(Processor[int, str]):
        left = 3

        def process(self, events: list[int]) -> list[str]:
            return [str(e) for e in events]

        def on_tick(self, now: float) -> list[str]:
            self.left -= 1
            return [f"chunk@{now:g}"]

        def tick_pending(self) -> bool:
            return self.left > 0

    proc = Chunked(name="chunked", tick_interval=5.0)
    sink = ListSink()
    p = Pipeline(clock=lambda: now[0])
    p.subscribe(proc, ListSource([]))
    p.subscribe(sink, proc)
    p.start()
    now[0] = 105.0
    for _ in range(4):  # no clock change: only pending work makes ticks due again
        p.run_once(idle_timeout=0)
    assert sink.events == ["chunk@105"] * 3
    now[0] = 109.0
    p.run_once(idle_timeout=0)
    assert len(sink.events) == 3  # back to the interval: due at 110
    now[0] = 110.0
    p.run_once(idle_timeout=0)
    p.run_once(idle_timeout=0)
    assert sink.events[-1] == "chunk@110"


def test_duplicate_names_and_cycles_are_rejected() -> None:
    p = Pipeline()
    p.add(ListSink(name="x"))
    with pytest.raises(ValueError, match="duplicate stage name"):
        p.add(ListSink(name="x"))
    a, b = MapProcessor(name="a"), MapProcessor(name="b")
    q = Pipeline()
    q.subscribe(a, b)
    q.subscribe(b, a)
    with pytest.raises(ValueError, match="cycle"):
        q.start()


# -- supervision --------------------------------------------------------------------------------


class FailOnce(MapProcessor):
    def __init__(self, bad: int, *, times: int = 1, **kwargs: Any) -> None:
        super().__init__(name="flaky", **kwargs)
        self.bad = bad
        self.times = times

    def process(self, events: list[Any]) -> list[Any]:
        if self.bad in events and self.times > 0:
            self.times -= 1
            raise RuntimeError(f"boom on {self.bad}")
        return super().process(events)


def _flaky_pipeline(proc: MapProcessor) -> tuple[Pipeline, ListSink]:
    sink = ListSink()
    p = Pipeline(registry=CollectorRegistry())
    p.subscribe(proc, ListSource(list(range(100)), batch=10), max_demand=10, min_demand=5)
    p.subscribe(sink, proc)
    return p, sink


def _failures(p: Pipeline, action: str) -> float | None:
    return p.registry.get_sample_value(
        "telemetry_stage_failures_total", {"stage": "flaky", "action": action}
    )


def test_restart_policy_restarts_and_retries_the_failed_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc = FailOnce(42)
    p, sink = _flaky_pipeline(proc)
    with caplog.at_level(logging.ERROR, logger="telemetry.stages"):
        p.run()
    assert sink.events == list(range(100))  # the failed batch was retried, not lost
    assert proc.restarts == 1
    assert [r.getMessage() for r in caplog.records] == [
        "stage flaky failed in process: RuntimeError: boom on 42; restarting (1/3 within 60s)"
    ]
    assert _failures(p, "restarted") == 1
    assert _failures(p, "escalated") == 0


def test_a_batch_that_fails_again_after_restart_escalates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc = FailOnce(42, times=2)
    p, sink = _flaky_pipeline(proc)
    with (
        caplog.at_level(logging.ERROR, logger="telemetry.stages"),
        pytest.raises(StageError, match="failed again after restart") as info,
    ):
        p.run()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert 42 not in sink.events
    assert len(caplog.records) == 2
    assert _failures(p, "restarted") == 1
    assert _failures(p, "escalated") == 1
    assert sink.stopped == 1  # run() stops the stages on escalation


def test_escalate_policy_raises_on_first_failure() -> None:
    proc = FailOnce(3, supervision=Supervision(strategy="escalate"))
    p, _ = _flaky_pipeline(proc)
    with pytest.raises(StageError, match="policy is escalate") as info:
        p.run()
    assert str(info.value.__cause__) == "boom on 3"
    assert proc.restarts == 0
    assert _failures(p, "escalated") == 1
    assert _failures(p, "restarted") == 0


def test_restart_budget_escalates_when_exceeded() -> None:
    class FailEvery(MapProcessor):
        def process(self, events: list[Any]) -> list[Any]:
            # Each batch fails once: the retry succeeds but every batch costs a restart.
            if events[0] % 10 == 0 and not getattr(self, "retrying", False):
                self.retrying = True
                raise RuntimeError("transient")
            self.retrying = False
            return super().process(events)

    proc = FailEvery(name="flaky", supervision=Supervision(max_restarts=2, within=60.0))
    p, sink = _flaky_pipeline(proc)
    with pytest.raises(StageError, match="2 restarts within 60s"):
        p.run()
    assert _failures(p, "restarted") == 2
    assert _failures(p, "escalated") == 1
    assert sink.events == list(range(20))


def test_metrics_count_events_and_demand() -> None:
    registry = CollectorRegistry()
    src = ListSource(list(range(25)), name="src")
    proc = MapProcessor(name="proc")
    sink = ListSink(name="sink")
    p = Pipeline(registry=registry)
    p.subscribe(proc, src, max_demand=10, min_demand=5)
    p.subscribe(sink, proc, max_demand=8, min_demand=4)
    p.run()

    def value(name: str, stage: str) -> float | None:
        return registry.get_sample_value(name, {"stage": stage})

    assert value("telemetry_stage_events_out_total", "src") == 25
    assert value("telemetry_stage_events_in_total", "proc") == 25
    assert value("telemetry_stage_events_out_total", "proc") == 25
    assert value("telemetry_stage_events_in_total", "sink") == 25
    assert value("telemetry_stage_demand_events", "proc") == 10
    assert value("telemetry_stage_demand_events", "sink") == 7  # 25 % 4 handled, not re-asked
    assert value("telemetry_stage_buffered_events", "sink") == 0
