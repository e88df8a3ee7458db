"""The public surface of telemetry.codec is exactly what is intended."""

from __future__ import annotations

from telemetry import codec

EXPECTED = {
    "ENCODE_ERROR",
    "HEADER_MESSAGE",
    "HEADER_REASON",
    "HEADER_SCHEMA_ID",
    "HEADER_SIZE",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TOPIC",
    "MAGIC_BYTE",
    "SCHEMA_DIR",
    "AvroSchema",
    "DeadLetter",
    "DeadLetterReporter",
    "DecodeFailure",
    "Encoder",
    "LocalSchemaSource",
    "OutputSchemaIds",
    "RateLimitedLog",
    "Reading",
    "ReadingDecoder",
    "Reason",
    "RecordDecoder",
    "RegistrySchemaSource",
    "SchemaSource",
    "SchemaSourceError",
    "frame_header",
    "output_encoder",
    "split_header",
    "value_subject",
}


def test_all_is_sorted_and_exact() -> None:
    # isort-style order, as ruff's RUF022 keeps it: CONSTANTS, Classes, functions.
    assert codec.__all__ == sorted(
        codec.__all__, key=lambda name: (not name.isupper(), not name[0].isupper(), name)
    )
    assert set(codec.__all__) == EXPECTED
    for name in codec.__all__:
        assert hasattr(codec, name), name


def test_reason_values_are_the_dead_letter_labels() -> None:
    assert [reason.value for reason in codec.Reason] == [
        "bad_magic",
        "too_short",
        "unknown_schema",
        "truncated",
        "trailing_bytes",
        "schema_mismatch",
        "missing_value",
        "non_finite",
        "bad_timestamp",
        "future_timestamp",
        "key_mismatch",
    ]


def test_an_unreachable_schema_source_is_not_a_record_error() -> None:
    """Code that dead-letters every CodecError must not dead-letter a registry outage."""
    from telemetry import codec, errors  # noqa: PLC0415 - the two homes of the one class

    assert codec.SchemaSourceError is errors.SchemaSourceError
    assert issubclass(errors.SchemaSourceError, errors.TelemetryError)
    assert not issubclass(errors.SchemaSourceError, errors.CodecError)
