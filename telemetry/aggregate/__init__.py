"""Partitioned event-time aggregation: windows and alert rules as a Processor stage.

Input: ``(partition, offset, reading)`` tuples. Output: :class:`Emitted` tagged ``rollup``,
``alert`` or ``late`` for the caller to route to topics. Per partition the stage exposes the
smallest source offset held by an open window (:meth:`Aggregator.min_open_offset`).
"""

from telemetry.aggregate._aggregator import Aggregator
from telemetry.aggregate._events import ALERT, LATE, ROLLUP, Emitted, Event, Kind

__all__ = ["ALERT", "LATE", "ROLLUP", "Aggregator", "Emitted", "Event", "Kind"]
