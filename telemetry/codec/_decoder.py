"""The hot path: decode batches of framed SensorReading values into plain dicts.

Decoded shape: each reading is the ``dict`` fastavro returns, typed as the :class:`Reading`
``TypedDict`` (keys of the reader schema, v2 by default). ``ts`` is ``int`` epoch milliseconds.
A class per reading would cost an extra Python call per record for no gain: a ``TypedDict`` is
a plain dict at runtime and still fully typed for mypy.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from io import BytesIO
from typing import Any, NamedTuple, TypedDict, cast

from fastavro import schemaless_reader

from telemetry.codec._fastread import FastReader
from telemetry.codec._framing import HEADER, HEADER_SIZE
from telemetry.codec._plan import ReadPlan, failed, plan_for
from telemetry.codec._reasons import Reason
from telemetry.codec._schemas import (
    READING_V2_FILE,
    SCHEMA_DIR,
    AvroSchema,
    load_schema_file,
    type_key,
)
from telemetry.codec._sources import SchemaSource
from telemetry.errors import SchemaSourceError

DEFAULT_MAX_FUTURE = timedelta(minutes=5)
"""A device clock more than this ahead of ours is wrong, not early (NTP keeps real ones within
seconds); five minutes leaves room for a sloppy clock and none for a broken one."""
DEFAULT_MAX_PAST = timedelta(days=3650)
_MESSAGE_LIMIT = 200
_NUMBERS = frozenset({'"double"', '"float"'})
_TIMESTAMPS = frozenset({'"long"', type_key({"type": "long", "logicalType": "timestamp-millis"})})


class Reading(TypedDict):
    """One decoded SensorReading in the v2 reader shape (a plain dict at runtime)."""

    device_id: str
    sensor: str
    ts: int
    """Event time, milliseconds since the Unix epoch."""
    value: float
    seq: int
    unit: str | None
    battery_level: float | None
    firmware: str | None


class DecodeFailure(NamedTuple):
    """One input that could not be decoded, by its position in the batch."""

    position: int
    """Index of the input in the batch."""
    reason: str
    """One of :class:`~telemetry.codec.Reason`."""
    message: str
    schema_id: int | None
    """The schema id from the header, when the header was readable."""


class ReadingDecoder:
    """Decodes Confluent-framed SensorReading records with a fixed reader schema.

    ``source`` resolves writer schema ids; each id is resolved and planned once and cached.
    Unknown ids are remembered for ``unknown_retry`` seconds before the source is asked again.
    Readings whose ``ts`` lies more than ``max_future`` ahead of ``now()`` (seconds since the
    epoch) fail with ``future_timestamp``, more than ``max_past`` behind it with
    ``bad_timestamp``.
    """

    def __init__(
        self,
        source: SchemaSource,
        *,
        reader_schema: AvroSchema | None = None,
        max_future: timedelta = DEFAULT_MAX_FUTURE,
        max_past: timedelta = DEFAULT_MAX_PAST,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        unknown_retry: float = 30.0,
    ) -> None:
        schema = reader_schema or load_schema_file(SCHEMA_DIR / READING_V2_FILE)
        _check_reader(schema)
        assert isinstance(schema, dict)  # noqa: S101 -- checked above, for mypy
        self._source = source
        self._reader_schema: dict[str, Any] = schema
        self._max_future_ms = int(max_future / timedelta(milliseconds=1))
        self._max_past_ms = int(max_past / timedelta(milliseconds=1))
        self._now = now
        self._monotonic = monotonic
        self._unknown_retry = unknown_retry
        self._plans: dict[int, ReadPlan] = {}
        self._unknown_until: dict[int, float] = {}

    def decode_batch(  # noqa: PLR0912, PLR0915 -- one inlined loop: calls cost per record
        self, values: Sequence[bytes | None]
    ) -> tuple[list[Reading], list[DecodeFailure]]:
        """Decode ``values``; return the readings in input order and the failures.

        ``decoded[k]`` belongs to the k-th input that has no entry in ``failures``. No exception
        escapes for any input, except :class:`SchemaSourceError` when the schema source itself
        is unreachable (retry the batch; the records are not at fault). ``None`` (a tombstone)
        is reported as ``too_short``.
        """
        decoded: list[Any] = []
        failures: list[DecodeFailure] = []
        append = decoded.append
        fail = failures.append
        now_ms = int(self._now() * 1000)
        lowest = now_ms - self._max_past_ms
        highest = now_ms + self._max_future_ms
        unpack = HEADER.unpack_from
        read: Callable[..., Any] = schemaless_reader
        plans = self._plans
        current_id = -1
        writer: Any = None
        reader: Any = None
        nullable: tuple[str, ...] = ()
        defaults: dict[str, Any] | None = None
        extra: tuple[str, ...] = ()
        failure: tuple[str, str] | None = None
        fast: FastReader | None = None
        for index, value in enumerate(cast(Sequence[bytes], values)):
            try:
                magic, schema_id = unpack(value)
            except (struct.error, TypeError):
                fail(_too_short(index, value))
                continue
            if magic:
                fail(_failure(index, Reason.BAD_MAGIC, f"magic byte {magic:#04x}", None))
                continue
            if schema_id != current_id:
                plan = plans.get(schema_id) or self._resolve(schema_id)
                writer, reader, nullable, defaults, extra, failure, fast = plan.as_tuple()
                current_id = schema_id
            if failure is not None:
                fail(DecodeFailure(index, failure[0], failure[1], schema_id))
                continue
            record = None
            if fast is not None:
                try:
                    record, end = fast(value)
                except Exception:  # noqa: BLE001 -- fastavro below decides how it fails
                    record = None
                else:
                    if end != len(value):
                        record = None
            if record is None:
                body = BytesIO(value)
                body.seek(HEADER_SIZE)
                try:
                    record = read(body, writer, reader)
                except EOFError as exc:
                    message = str(exc) or "end of data"
                    fail(_failure(index, Reason.TRUNCATED, message, schema_id))
                    continue
                except Exception as exc:  # noqa: BLE001 -- corrupt bodies raise anything
                    fail(_corrupt(index, exc, body, value, schema_id))
                    continue
                if body.tell() != len(value):
                    fail(_trailing(index, body.tell(), value, schema_id))
                    continue
                if defaults:
                    record.update(defaults)
                if extra:
                    for name in extra:
                        del record[name]
            if nullable and (missing := [name for name in nullable if record[name] is None]):
                fail(_failure(index, Reason.MISSING_VALUE, f"{missing} null", schema_id))
                continue
            number = record["value"]
            if number - number != 0.0:  # NaN - NaN and inf - inf are NaN
                fail(_failure(index, Reason.NON_FINITE, f"value is {number}", schema_id))
            elif not lowest <= record["ts"] <= highest:
                fail(_bad_ts(index, record["ts"], now_ms, schema_id))
            else:
                append(record)
        return decoded, failures

    def _resolve(self, schema_id: int) -> ReadPlan:
        """Look ``schema_id`` up and plan it; unknown ids are retried after a while."""
        until = self._unknown_until.get(schema_id)
        if until is not None and self._monotonic() < until:
            return failed(Reason.UNKNOWN_SCHEMA, f"schema id {schema_id} is unknown")
        try:
            writer = self._source.lookup(schema_id)
        except SchemaSourceError:
            raise
        except Exception as exc:  # noqa: BLE001 -- a broken source must not kill the batch
            return failed(Reason.UNKNOWN_SCHEMA, f"schema id {schema_id}: lookup failed: {exc}")
        if writer is None:
            if len(self._unknown_until) >= 10_000:
                self._unknown_until.clear()
            self._unknown_until[schema_id] = self._monotonic() + self._unknown_retry
            return failed(Reason.UNKNOWN_SCHEMA, f"schema id {schema_id} is unknown")
        self._unknown_until.pop(schema_id, None)
        plan = plan_for(writer, self._reader_schema)
        self._plans[schema_id] = plan
        return plan


def _check_reader(schema: AvroSchema) -> None:
    """The hot loop relies on a numeric ``value`` and a ``long`` ``ts``: insist on them."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    types = {f.get("name"): type_key(f.get("type")) for f in fields or () if isinstance(f, dict)}
    if types.get("value") not in _NUMBERS or types.get("ts") not in _TIMESTAMPS:
        raise ValueError("the reader schema needs a double 'value' and a long 'ts' field")


def _failure(index: int, reason: str, message: str, schema_id: int | None) -> DecodeFailure:
    return DecodeFailure(index, reason, message[:_MESSAGE_LIMIT], schema_id)


def _too_short(index: int, value: object) -> DecodeFailure:
    if value is None:
        return _failure(index, Reason.TOO_SHORT, "no value (tombstone)", None)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return _failure(index, Reason.TOO_SHORT, f"not bytes: {type(value).__name__}", None)
    return _failure(index, Reason.TOO_SHORT, f"{len(value)} bytes, need at least 5", None)


def _corrupt(
    index: int, exc: Exception, body: BytesIO, value: bytes, schema_id: int
) -> DecodeFailure:
    # fastavro reports a varint cut short as IndexError, not EOFError: if the reader consumed
    # every byte before failing, the body was truncated rather than malformed.
    if body.tell() >= len(value):
        return _failure(index, Reason.TRUNCATED, f"{type(exc).__name__}: {exc}", schema_id)
    message = f"body does not match writer schema: {type(exc).__name__}: {exc}"
    return _failure(index, Reason.SCHEMA_MISMATCH, message, schema_id)


def _trailing(index: int, end: int, value: bytes, schema_id: int) -> DecodeFailure:
    message = f"{len(value) - end} bytes after the record ends at byte {end}"
    return _failure(index, Reason.TRAILING_BYTES, message, schema_id)


def _bad_ts(index: int, ts: int, now_ms: int, schema_id: int) -> DecodeFailure:
    ahead = ts - now_ms
    if ahead > 0:
        message = f"ts {ts} is {ahead / 1000:,.1f} s ahead of the wall clock"
        return _failure(index, Reason.FUTURE_TIMESTAMP, message, schema_id)
    message = f"ts {ts} is {-ahead / 86_400_000:,.1f} days behind the wall clock"
    return _failure(index, Reason.BAD_TIMESTAMP, message, schema_id)
