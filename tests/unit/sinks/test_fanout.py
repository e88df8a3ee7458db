"""Fan-out to output sinks: every sink sees every output; the handle settles after all acked."""

from __future__ import annotations

import threading
from collections.abc import Collection

import pytest

from telemetry.aggregate._events import Emitted, Kind
from telemetry.errors import StageError
from telemetry.kafka import Output, Pending
from telemetry.sinks import Broadcast, Delivery, SinkStage
from telemetry.stages import Pipeline, Sink
from tests.unit.stages.support import ListSource


class Recording:
    """A plug-in sink that keeps its deliveries; acks them when told to (or at once)."""

    def __init__(
        self, name: str, *, kinds: Collection[str] = ("alert",), capacity: int = 100
    ) -> None:
        self.name = name
        self.kinds = kinds
        self.capacity = capacity
        self.auto_ack = False
        self.received: list[Delivery] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def send(self, deliveries: list[Delivery]) -> None:
        assert len(deliveries) + self.unacked() <= self.capacity
        self.received.extend(deliveries)
        if self.auto_ack:
            self.acked += len(deliveries)
            for delivery in deliveries:
                delivery.ack()

    def unacked(self) -> int:
        return len(self.received) - self.acked

    acked = 0

    def ack_all(self) -> None:
        # From another thread, as a real sink's worker would.
        pending = self.received[self.acked :]
        self.acked = len(self.received)

        def ack() -> None:
            for delivery in pending:
                delivery.ack()

        thread = threading.Thread(target=ack)
        thread.start()
        thread.join()

    def stop(self, timeout: float) -> None:
        del timeout
        self.stopped = True


class Collect(Sink[Output]):
    """Stands in for the Kafka sink: delivers (acks) every output it is given at once."""

    def __init__(self) -> None:
        super().__init__(name="kafka")
        self.outputs: list[Output] = []

    def write(self, events: list[Output]) -> None:
        self.outputs.extend(events)
        for out in events:
            out.acked()


def outputs(epoch: Pending, kinds: list[Kind | None]) -> list[Output]:
    made = []
    for i, kind in enumerate(kinds):
        out = Output("topic", b"bytes", f"d{i}")
        if kind is not None:
            out.emitted = Emitted(kind, 0, i, {"device_id": f"d{i}", "n": i})
        out.ack = epoch
        epoch.pending += 1
        made.append(out)
    return made


def wire(events: list[Output], *sinks: Recording) -> tuple[Pipeline, Collect, list[SinkStage]]:
    pipeline = Pipeline()
    source = ListSource(events, dispatcher=Broadcast())
    kafka = Collect()
    pipeline.subscribe(kafka, source, max_demand=1000, min_demand=500)
    stages = [SinkStage(sink) for sink in sinks]
    for stage in stages:
        pipeline.subscribe(stage, source, max_demand=stage.sink.capacity, min_demand=0, manual=True)
    return pipeline, kafka, stages


def run(pipeline: Pipeline, passes: int = 5) -> None:
    for _ in range(passes):
        pipeline.run_once(idle_timeout=0.01)


def test_every_sink_sees_every_output_and_the_epoch_waits_for_all() -> None:
    epoch = Pending()
    events = outputs(epoch, ["rollup", "alert", None, "alert"])
    alerts = Recording("alerts")
    everything = Recording("everything", kinds=("rollup", "alert"))
    pipeline, kafka, _ = wire(events, alerts, everything)
    with pipeline:
        run(pipeline)
        assert kafka.outputs == events
        assert [d.record["n"] for d in alerts.received] == [1, 3]
        assert [d.kind for d in everything.received] == ["rollup", "alert", "alert"]
        assert alerts.started
        assert everything.started
        # Kafka delivered all four and skipped kinds are acked at once, but the two sinks
        # still hold theirs: nothing of the epoch may be written yet.
        assert epoch.pending == 3
        alerts.ack_all()
        run(pipeline)
        assert epoch.pending == 3  # the rollup and both alerts wait for the second sink
        everything.ack_all()
        run(pipeline)
        assert epoch.pending == 0
    assert alerts.stopped
    assert everything.stopped


def test_a_sink_at_capacity_stops_the_source_asking_for_more() -> None:
    epoch = Pending()
    events = outputs(epoch, ["alert"] * 10)
    slow = Recording("slow", capacity=3)
    pipeline, kafka, stages = wire(events, slow)
    with pipeline:
        run(pipeline)
        # Broadcast emits what the least-demanding sink can take: the Kafka sink gets no
        # more than the slow sink either, and nothing piles up beyond its capacity.
        assert len(slow.received) == 3
        assert len(kafka.outputs) == 3
        assert stages[0].in_flight() == 3
        slow.ack_all()
        run(pipeline)
        assert len(slow.received) == 6
        slow.auto_ack = True
        slow.ack_all()
        run(pipeline, passes=10)
        assert len(slow.received) == 10
        assert epoch.pending == 0


def test_a_failed_delivery_escalates_and_never_settles() -> None:
    epoch = Pending()
    events = outputs(epoch, ["alert"])
    failing = Recording("failing")
    pipeline, _, _ = wire(events, failing)
    pipeline.start()
    run(pipeline)
    failing.received[0].fail(OSError("endpoint down"))
    with pytest.raises(StageError, match="failing"):
        run(pipeline)
    pipeline.stop()
    assert epoch.pending == 1  # its input stays uncommitted: replayed, not lost
