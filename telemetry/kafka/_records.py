"""What flows between the Kafka stages: consumed records and records to produce."""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Final

from confluent_kafka import Message

from telemetry.kafka._offsets import PartitionOffsets

if TYPE_CHECKING:
    from telemetry.aggregate import Emitted

Headers = list[tuple[str, str | bytes | None]]


class Record(tuple[Message, PartitionOffsets, int]):
    """A consumed message with the offset tracker of its partition (its generation).

    A tuple, so that the source builds one per message with ``tuple.__new__`` in C rather
    than through a Python ``__init__``."""

    __slots__ = ()

    def __new__(cls, message: Message, offsets: PartitionOffsets, offset: int) -> Record:
        return tuple.__new__(cls, (message, offsets, offset))

    message = property(itemgetter(0), doc="The consumed message.")
    offsets = property(itemgetter(1), doc="Offset tracker of its partition (generation).")
    offset = property(itemgetter(2), doc="Its offset (read once from the message).")

    def __repr__(self) -> str:
        return f"Record({self.offsets.topic}[{self.offsets.partition}]@{self.offset})"


class Ack:
    """The acknowledgement handle of an output (Broadway's acknowledger, in short): the sink
    calls :meth:`settle` once per delivered output and touches no offset itself. This base
    handle is the in-memory one: the output holds its input offset (``source``/``offset``)
    until delivered. A partition checkpoint's :class:`~telemetry.aggregate.Epoch` counts its
    outputs instead."""

    __slots__ = ()

    def settle(self, out: Output) -> None:
        source = out.source
        if source is not None:
            source.release(out.offset)


HOLD_OFFSET: Final = Ack()
"""The handle of every output that does not name another one."""


class Pending(Ack):
    """Counts the outputs handed to the sink and not yet delivered (``pending``); its owner
    waits for 0 (a checkpoint waits for the outputs of its stretch of input)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = 0

    def settle(self, out: Output) -> None:
        del out
        self.pending -= 1


class Output:
    """A record to produce. ``source``/``offset`` name the input offset it holds until delivered
    (None for outputs that hold nothing, e.g. from an idle-clock tick of a revoked partition)."""

    __slots__ = (
        "ack",
        "cuttable",
        "emitted",
        "event_time",
        "headers",
        "key",
        "offset",
        "source",
        "started",
        "topic",
        "unacked",
        "value",
    )

    def __init__(  # noqa: PLR0917  # positional on purpose: built per event on the hot path
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        source: PartitionOffsets | None = None,
        offset: int = -1,
    ) -> None:
        self.topic = topic
        self.value = value
        self.key = key
        self.headers = headers
        self.source = source
        self.offset = offset
        # Wall-clock seconds: when processing of its input began and its event time; the sink
        # observes latencies for outputs that set them (rollups and alerts), 0 = not measured.
        self.started = 0.0
        self.event_time = 0.0
        self.ack: Ack = HOLD_OFFSET
        # A dead letter: when it does not fit the producer's or the broker's size limit, the
        # sink may cut its copy of the original (see telemetry.kafka._sink.cut_to_fit).
        self.cuttable = False
        # The value before encoding, for output sinks other than Kafka (telemetry.sinks):
        # the rollup, alert or late reading it encodes; None for dead letters.
        self.emitted: Emitted | None = None
        # Sinks that still have to acknowledge it: the handle settles once all of them did.
        self.unacked = 1

    def acked(self) -> None:
        """One sink delivered it; the last one settles its handle."""
        self.unacked -= 1
        if not self.unacked:
            self.ack.settle(self)

    @classmethod
    def forward(cls, record: Record, topic: str) -> Output:
        """Pass a consumed record on to ``topic`` unchanged; it keeps holding its offset."""
        message = record.message
        return cls(topic, message.value(), message.key(), None, record.offsets, record.offset)

    def __repr__(self) -> str:
        return f"Output({self.topic!r}, key={self.key!r}, holds={self.offset})"
