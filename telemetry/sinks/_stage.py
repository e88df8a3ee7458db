"""Fan-out to output sinks: every sink sees every output, and an output is acknowledged (its
offset released, its checkpoint epoch counted down) only when every sink acked it.

The aggregation's outputs are broadcast (:class:`Broadcast`) to the Kafka sink and to one
:class:`SinkStage` per plug-in sink. The Kafka sink is the first sink and stays special: it also
carries the dead letters and late readings, its outputs are encoded once in the aggregation, and
under exactly-once it produces into the transaction. A plug-in sink is not transactional: under
exactly-once the transaction commits only once every plug-in sink acked everything
(``App``'s quiet point), so plug-in sinks are at-least-once there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from telemetry.errors import SinkError
from telemetry.kafka import Output, PartitionOffsets
from telemetry.sinks._protocol import Delivery, OutputSink, Reports
from telemetry.stages import BroadcastDispatcher, Sink, StopBudget, Supervision

logger = logging.getLogger("telemetry.sinks")

STOP_FLUSH_S = 30.0
"""At stop: longest wait for a plug-in sink's last acknowledgements (within the stop budget)."""


class Broadcast(BroadcastDispatcher):
    """Every sink gets every output; each output expects one acknowledgement per sink."""

    def push(self, events: list[Any]) -> None:
        sinks = len(self._subs)
        if sinks > 1:  # once per output, and only when plug-in sinks are configured
            for out in events:
                out.unacked = sinks
        super().push(events)


class SinkStage(Sink[Output]):
    """Runs one :class:`OutputSink` as a pipeline stage; subscribe it with ``manual=True`` and
    ``max_demand=sink.capacity``. Its demand is the sink's free capacity: outputs of kinds the
    sink does not want are acknowledged at once and give their room back."""

    def __init__(self, sink: OutputSink, *, stop_budget: StopBudget | None = None) -> None:
        # A failed delivery is final for the sink (it retried already): escalate, so the
        # input is replayed by the next owner rather than dropped.
        super().__init__(name=sink.name, supervision=Supervision(strategy="escalate"))
        if sink.capacity < 1:
            raise ValueError(f"sink {sink.name!r}: capacity must be >= 1")
        self.sink = sink
        self.kinds = frozenset(sink.kinds)
        self.stop_budget = stop_budget if stop_budget is not None else StopBudget()
        self._reports = Reports()
        self._held = 0  # delivered to the sink, not yet acknowledged

    def start(self) -> None:
        self._reports.clear()
        self._held = 0
        self.sink.start()
        self.ask(self.sink.capacity)

    def stop(self) -> None:
        self.sink.stop(self.stop_budget.remaining(STOP_FLUSH_S))
        self._settle()
        if self._held:
            logger.warning(
                "sink %s stopped with %d outputs unacknowledged; their inputs stay uncommitted",
                self.name,
                self._held,
            )

    def restart(self) -> None:
        raise SinkError(f"sink {self.name!r} cannot be restarted with outputs unacknowledged")

    def write(self, events: list[Output]) -> None:
        kinds = self.kinds
        wanted: list[Delivery] = []
        skipped = 0
        for out in events:
            emitted = out.emitted
            if emitted is not None and emitted.kind in kinds:
                wanted.append(Delivery(out, self._reports))
            else:
                out.acked()
                skipped += 1
        if wanted:
            self._held += len(wanted)
            self.sink.send(wanted)
        if skipped:
            self.ask(skipped)

    def wait(self, timeout: float) -> None:
        if timeout > 0 and self._held:
            self._reports.wait(timeout)
        self._settle()

    def in_flight(self) -> int:
        return self._held

    def finish(
        self, partitions: Sequence[PartitionOffsets], timeout: float, abandon: bool = False
    ) -> None:
        """Revoke listener (after the Kafka sink's): wait up to ``timeout`` for the sink's
        acknowledgements, so the revoked partitions' checkpoints can be written."""
        del partitions
        if abandon:
            return
        deadline = time.monotonic() + self.stop_budget.remaining(timeout)
        while self._held and (left := deadline - time.monotonic()) > 0:
            self.wait(min(0.1, left))

    def _settle(self) -> None:
        freed = 0
        failure: BaseException | None = None
        for out, error in self._reports.take():
            if error is None:
                out.acked()
                freed += 1
            elif failure is None:
                failure = error
        if freed:
            self._held -= freed
            self.ask(freed)
        if failure is not None:
            raise SinkError(f"sink {self.name!r} failed an output: {failure}") from failure
