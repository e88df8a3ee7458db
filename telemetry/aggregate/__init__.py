"""Partitioned event-time aggregation: windows and alert rules, with durable state.

:class:`Aggregator` is the pure logic: ``(partition, offset, reading)`` tuples in,
:class:`Emitted` rollups, alerts and late readings out. :class:`Aggregate` is the pipeline stage
around it that encodes outputs for Kafka; its :class:`Checkpointer` writes each partition's
state to the changelog topic and restores it on assign.
"""

from telemetry.aggregate._aggregator import Aggregator
from telemetry.aggregate._checkpoint import Checkpointer, Epoch
from telemetry.aggregate._events import ALERT, LATE, ROLLUP, Emitted, Event, Kind
from telemetry.aggregate._exactly_once import TransactionalCheckpointer
from telemetry.aggregate._stage import Aggregate

__all__ = [
    "ALERT",
    "LATE",
    "ROLLUP",
    "Aggregate",
    "Aggregator",
    "Checkpointer",
    "Emitted",
    "Epoch",
    "Event",
    "Kind",
    "TransactionalCheckpointer",
]
