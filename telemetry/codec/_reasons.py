"""Dead-letter reasons: the closed set of label values for metrics and dead-letter headers."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a record could not be decoded; each value is a Prometheus label value and header.

    Members are ``str`` instances, so they can be used wherever a reason string is expected.
    """

    BAD_MAGIC = "bad_magic"
    """The first byte is not the Confluent magic byte 0."""
    TOO_SHORT = "too_short"
    """Fewer than 5 bytes: no room for the magic byte and schema id (or no value at all)."""
    UNKNOWN_SCHEMA = "unknown_schema"
    """The schema id is not known to the schema source."""
    TRUNCATED = "truncated"
    """The Avro body ends before the record does."""
    TRAILING_BYTES = "trailing_bytes"
    """Bytes remain after the record."""
    SCHEMA_MISMATCH = "schema_mismatch"
    """The writer schema is not a SensorReading the reader can read, or the body is corrupt."""
    MISSING_VALUE = "missing_value"
    """A required field is null or absent."""
    NON_FINITE = "non_finite"
    """The value is NaN or infinite."""
    BAD_TIMESTAMP = "bad_timestamp"
    """The event time is too far in the past (``processing.max_past_ms``)."""
    FUTURE_TIMESTAMP = "future_timestamp"
    """The event time is too far ahead of the wall clock (``processing.max_future_ms``): a
    device with a skewed clock must not close its partition's windows for every other one."""
    KEY_MISMATCH = "key_mismatch"
    """The Kafka key is not the reading's device id (``processing.key_mismatch: deadletter``):
    its device's state lives in another partition."""
