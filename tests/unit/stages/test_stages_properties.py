"""Property tests: random stage graphs, demands and paces lose, duplicate and reorder nothing."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.stages import (
    BroadcastDispatcher,
    DemandDispatcher,
    Dispatcher,
    PartitionDispatcher,
    Pipeline,
    Processor,
    Sink,
    Source,
)
from tests.unit.stages.support import (
    ListSink,
    ListSource,
    MapProcessor,
    SlowProcessor,
    SlowSink,
    run_to_end,
)

Event = tuple[int, int]  # (sequence number, key)

demands = st.integers(1, 40).flatmap(lambda mx: st.tuples(st.just(mx), st.integers(0, mx - 1)))


def _key(event: Event) -> int:
    return event[1]


def _dispatcher(kind: str, partitions: int) -> Dispatcher:
    if kind == "partition":
        return PartitionDispatcher(partitions=partitions, key=_key)
    if kind == "broadcast":
        return BroadcastDispatcher()
    return DemandDispatcher()


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_graphs_deliver_every_event_once_in_order_within_bounds(data: st.DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32)))
    n_events = data.draw(st.integers(0, 300), label="events")
    n_keys = data.draw(st.integers(1, 12), label="keys")
    events: list[Event] = [(i, rnd.randrange(n_keys)) for i in range(n_events)]
    chain_len = data.draw(st.integers(0, 3), label="chain")
    fan_kind = data.draw(st.sampled_from(["demand", "partition", "broadcast"]), label="fan-out")
    fan_width = data.draw(st.integers(1, 3), label="width")

    def buffer_size() -> int:
        return data.draw(st.integers(1, 60), label="buffer_size")

    def slow() -> bool:
        return data.draw(st.booleans(), label="manual demand")

    stages: list[Source[Any] | Processor[Any, Any]] = []
    last_dispatcher = _dispatcher(fan_kind, fan_width)
    src = ListSource(
        events,
        batch=data.draw(st.integers(1, 50), label="source batch"),
        rnd=rnd if data.draw(st.booleans(), label="source returns fewer") else None,
        dispatcher=last_dispatcher if chain_len == 0 else None,
        buffer_size=buffer_size(),
    )
    stages.append(src)
    p = Pipeline()
    for i in range(chain_len):
        dispatcher = last_dispatcher if i == chain_len - 1 else None
        manual = slow()
        proc: MapProcessor = (
            SlowProcessor(
                name=f"proc{i}", rnd=rnd, buffer_size=buffer_size(), dispatcher=dispatcher
            )
            if manual
            else MapProcessor(name=f"proc{i}", buffer_size=buffer_size(), dispatcher=dispatcher)
        )
        mx, mn = data.draw(demands, label="demand")
        p.subscribe(proc, stages[-1], max_demand=mx, min_demand=mn, manual=manual)
        stages.append(proc)

    sinks: list[ListSink] = []
    for j in range(fan_width):
        manual = slow()
        sink: ListSink = SlowSink(name=f"sink{j}", rnd=rnd) if manual else ListSink(name=f"sink{j}")
        mx, mn = data.draw(demands, label="demand")
        p.subscribe(
            sink,
            stages[-1],
            max_demand=mx,
            min_demand=mn,
            manual=manual,
            partition=j if fan_kind == "partition" else None,
        )
        sinks.append(sink)

    run_to_end(p)  # checks demand and buffer bounds after every pass

    for sink in sinks:
        seqs = [seq for seq, _ in sink.events]
        assert seqs == sorted(set(seqs)), "per-sink order broken or duplicate"
    if fan_kind == "broadcast":
        for sink in sinks:
            assert sink.events == events
    else:
        assert sorted(e for s in sinks for e in s.events) == events
    if fan_kind == "partition":
        for j, sink in enumerate(sinks):
            assert all(hash(key) % fan_width == j for _, key in sink.events)


class Unit(Sink[Any]):
    def write(self, events: list[Any]) -> None:
        del events


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 5), max_size=30), max_size=20),
    partitions=st.integers(1, 4),
)
def test_partition_dispatcher_routes_stably_and_keeps_order(
    batches: list[list[int]], partitions: int
) -> None:
    disp = PartitionDispatcher(partitions=partitions, key=lambda e: e)
    src = ListSource([0], dispatcher=disp)
    p = Pipeline()
    subs = [
        p.subscribe(Unit(name=f"u{i}"), src, partition=i, manual=True) for i in range(partitions)
    ]
    tagged: list[tuple[int, int]] = []
    for b, batch in enumerate(batches):
        items = [(k, b * 100 + i) for i, k in enumerate(batch)]
        tagged.extend(items)
        disp.push([k for k, _ in items])
    assert disp.buffered == len(tagged)
    for sub in subs:
        sub.ask(10_000)
    assert disp.dispatch() == len(tagged)
    for i, sub in enumerate(subs):
        got = sub.inbox.take(sub.buffered) if sub.buffered else []
        assert got == [k for k, _ in tagged if hash(k) % partitions == i]
