"""The decode stage: consumed records in, decoded readings and dead letters out.

One output stream carries two kinds of event, so the engine's single dispatcher suffices:

* :class:`ReadingEvent` -- a decoded reading with the offset tracker and offset of its input.
  It takes over the input's hold (the one :class:`~telemetry.kafka.KafkaSource` placed when it
  emitted the record): whoever finishes the reading releases it, e.g. by producing an
  :class:`~telemetry.kafka.Output` with ``source=event.offsets, offset=event.offset``.
* :class:`~telemetry.kafka.Output` -- a dead letter, ready for the sink. It holds its input's
  offset too, so the dead-lettered offset counts as done only once the dead letter is delivered.

Downstream stages forward every ``Output`` untouched and handle the readings
(:class:`ReadingsToOutputs` does the simplest thing: re-encode them to a topic). Events keep
their input order within the stream, so per-partition order holds for both kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Final, Literal

from prometheus_client import CollectorRegistry

from telemetry.codec import (
    DeadLetter,
    DeadLetterReporter,
    DecodeFailure,
    Encoder,
    Reading,
    ReadingDecoder,
    Reason,
)
from telemetry.kafka import Headers, Output, PartitionOffsets, Record
from telemetry.metrics import KEY_MISMATCH_READINGS, counter
from telemetry.stages import Dispatcher, Processor, Supervision

HEADER_REKEYED_FROM: Final = "telemetry.rekeyed.from"
"""On a reading sent back keyed by its device id: ``<partition>@<offset>`` it came from."""


class ReadingEvent(tuple[PartitionOffsets, int, Reading]):
    """A decoded reading and the input offset it holds until someone releases it.

    A tuple ``(offsets, offset, reading)``: exactly the aggregation stage's input event, so
    readings reach it without another allocation, and one built at C speed (see :func:`_event`).
    """

    __slots__ = ()

    def __new__(cls, reading: Reading, offsets: PartitionOffsets, offset: int) -> ReadingEvent:
        return tuple.__new__(cls, (offsets, offset, reading))

    offsets = property(itemgetter(0), doc="Offset tracker of the input's partition (generation).")
    offset = property(itemgetter(1), doc="Input offset; held until ``offsets.release(offset)``.")
    reading = property(itemgetter(2), doc="The decoded reading (v2 shape).")

    def release(self) -> None:
        """The reading is done with: its input offset may be committed."""
        self.offsets.release(self.offset)

    def __repr__(self) -> str:
        return f"ReadingEvent({self.offsets.topic}[{self.offsets.partition}]@{self.offset})"


def _events(
    decoded: list[Reading],
    records: list[Record],
    misplaced: Callable[[Record, Reading], Output] | None = None,
) -> list[DecodeEvent]:
    """Reading events for decoded readings and their records, without a Python-level __new__.

    With ``misplaced``, a reading whose Kafka key is not its device id (or is null) becomes
    what ``misplaced`` makes of it instead: its device's state lives in another partition.
    """
    new = tuple.__new__
    cls = ReadingEvent
    if misplaced is None:
        return [
            new(cls, (record.offsets, record.offset, reading))
            for reading, record in zip(decoded, records, strict=True)
        ]
    out: list[DecodeEvent] = []
    append = out.append
    for reading, record in zip(decoded, records, strict=True):
        if record.message.key() == reading["device_id"].encode():
            append(new(cls, (record.offsets, record.offset, reading)))
        else:
            append(misplaced(record, reading))
    return out


DecodeEvent = ReadingEvent | Output
"""What :class:`Decode` emits: readings, and dead letters as ready-to-produce outputs."""


class Decode(Processor[Record, DecodeEvent]):
    """Decode each batch of consumed records with :meth:`ReadingDecoder.decode_batch`.

    Every failure becomes an :class:`Output` to ``dead_letter_topic`` with the input's original
    key and value, the input's own headers followed by :meth:`DeadLetter.headers`, and the
    input's offset hold. Failures are counted by reason (``reporter``, or a
    :class:`DeadLetterReporter` on ``registry``) and logged at most once per reason per
    interval; the log is flushed every ``tick_interval`` seconds and on stop.

    A :class:`~telemetry.errors.SchemaSourceError` (registry unreachable) is not the records'
    fault: it is not dead-lettered but raised, before anything of the batch is emitted or
    counted. Supervision then restarts the stage and retries the batch once; if the source is
    still down the stage escalates and the pipeline stops with those offsets uncommitted, so
    the records are decoded again after the restart of the process.
    """

    def __init__(
        self,
        *,
        name: str,
        decoder: ReadingDecoder,
        dead_letter_topic: str,
        registry: CollectorRegistry | None = None,
        reporter: DeadLetterReporter | None = None,
        tick_interval: float = 1.0,
        buffer_size: int = 10_000,
        dispatcher: Dispatcher | None = None,
        supervision: Supervision | None = None,
        key_mismatch: Literal["rekey", "deadletter"] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            dispatcher=dispatcher,
            buffer_size=buffer_size,
            supervision=supervision,
            tick_interval=tick_interval,
        )
        if reporter is None:
            reporter = DeadLetterReporter(
                registry=registry if registry is not None else CollectorRegistry()
            )
        self.decoder = decoder
        self.dead_letter_topic = dead_letter_topic
        self.reporter = reporter
        self._misplaced: Callable[[Record, Reading], Output] | None = None
        if key_mismatch is not None:
            self.key_mismatches = counter(
                KEY_MISMATCH_READINGS, registry if registry is not None else CollectorRegistry()
            )
            self._mismatch = self.key_mismatches.labels(key_mismatch)
            self._misplaced = self._rekey if key_mismatch == "rekey" else self._mislabelled

    def process(self, events: list[Record]) -> list[DecodeEvent]:
        values = [record.message.value() for record in events]
        decoded, failures = self.decoder.decode_batch(values)  # may raise SchemaSourceError
        misplaced = self._misplaced
        if not failures:
            return _events(decoded, events, misplaced)
        out: list[DecodeEvent] = []
        extend = out.extend
        start = 0  # first input not yet emitted
        done = 0  # readings emitted so far
        for failure in failures:  # in input order
            position = failure.position
            if position > start:
                end = done + position - start
                extend(_events(decoded[done:end], events[start:position], misplaced))
                done = end
            out.append(self._dead_letter(events[position], values[position], failure))
            start = position + 1
        if start < len(events):
            extend(_events(decoded[done:], events[start:], misplaced))
        self.reporter.report_failures(failures)
        return out

    def _dead_letter(self, record: Record, value: bytes | None, failure: DecodeFailure) -> Output:
        offsets = record.offsets
        message = record.message
        original = message.headers()
        headers: Headers = (
            list(original.items()) if isinstance(original, dict) else list(original or ())
        )
        letter = DeadLetter.from_failure(
            failure, topic=offsets.topic, partition=offsets.partition, offset=record.offset
        )
        headers.extend(letter.headers())
        out = Output(self.dead_letter_topic, value, message.key(), headers, offsets, record.offset)
        out.cuttable = True
        return out

    def _rekey(self, record: Record, reading: Reading) -> Output:
        """Send the reading back to its topic keyed by its device id, so that it lands in the
        partition that holds its device's state; it counts there, not here."""
        self._mismatch.inc()
        message = record.message
        original = message.headers()
        headers: Headers = (
            list(original.items()) if isinstance(original, dict) else list(original or ())
        )
        headers.append(
            (HEADER_REKEYED_FROM, f"{record.offsets.partition}@{record.offset}".encode())
        )
        return Output(
            record.offsets.topic,
            message.value(),
            reading["device_id"].encode(),
            headers,
            record.offsets,
            record.offset,
        )

    def _mislabelled(self, record: Record, reading: Reading) -> Output:
        self._mismatch.inc()
        key = record.message.key()
        failure = DecodeFailure(
            0,
            Reason.KEY_MISMATCH,
            f"key {key!r} is not the device id {reading['device_id']!r}"[:200],
            None,
        )
        self.reporter.report_failures([failure])
        return self._dead_letter(record, record.message.value(), failure)

    def on_tick(self, now: float) -> list[DecodeEvent]:
        del now
        self.reporter.log.flush()
        return []

    def stop(self) -> None:
        self.reporter.log.flush(force=True)


class ReadingsToOutputs(Processor[DecodeEvent, Output]):
    """Finish readings the simplest way: re-encode each to ``topic``, keyed by device id.

    Readings are encoded with ``encoder`` under ``schema_id`` (the v2 SensorReading id) and each
    output keeps holding its input offset until delivered. Outputs (dead letters) pass through
    untouched. A stand-in for the aggregation stage, and what the integration test observes.
    """

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        encoder: Encoder,
        schema_id: int,
        buffer_size: int = 10_000,
        dispatcher: Dispatcher | None = None,
        supervision: Supervision | None = None,
    ) -> None:
        super().__init__(
            name=name, dispatcher=dispatcher, buffer_size=buffer_size, supervision=supervision
        )
        self.topic = topic
        self.encoder = encoder
        self.schema_id = schema_id

    def process(self, events: list[DecodeEvent]) -> list[Output]:
        topic = self.topic
        encode = self.encoder.encode
        schema_id = self.schema_id
        out: list[Output] = []
        append = out.append
        for event in events:
            if isinstance(event, Output):
                append(event)
                continue
            reading = event.reading
            append(
                Output(
                    topic,
                    encode(schema_id, reading),
                    reading["device_id"].encode(),
                    None,
                    event.offsets,
                    event.offset,
                )
            )
        return out
