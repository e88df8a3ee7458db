"""What goes into and out of the aggregation stage."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Final, Literal

from telemetry.codec import Reading

Event = tuple[Hashable, int, Reading]
"""Input: ``(partition, offset, reading)``. ``partition`` names the aggregation partition (the
Kafka partition is the natural choice), ``offset`` the reading's source offset; offsets of a
partition are expected to increase in arrival order, as Kafka's do."""

Kind = Literal["rollup", "alert", "late"]
ROLLUP: Final = "rollup"
ALERT: Final = "alert"
LATE: Final = "late"


class Emitted:
    """One output of the stage, tagged with its ``kind`` so the caller can route it.

    - ``rollup``: ``record`` is a Rollup dict (``schemas/rollup.avsc``); ``offset`` is the
      smallest source offset of the window, which the window held while open: hold it until the
      rollup is delivered.
    - ``alert``: ``record`` is an Alert dict (``schemas/alert.avsc``); ``offset`` is the offset
      of the triggering reading, or -1 for a silent-device RAISED (no reading triggers it).
    - ``late``: ``record`` is the late reading itself, ``offset`` its source offset.

    The Kafka key of every kind is ``record["device_id"]`` (:attr:`key`).
    """

    __slots__ = ("kind", "offset", "partition", "record")

    def __init__(
        self, kind: Kind, partition: Hashable, offset: int, record: Mapping[str, Any]
    ) -> None:
        self.kind = kind
        self.partition = partition
        self.offset = offset
        self.record = record

    @property
    def key(self) -> str:
        key: str = self.record["device_id"]
        return key

    def __repr__(self) -> str:
        return f"Emitted({self.kind}, p={self.partition!r}, offset={self.offset}, {self.record!r})"
