"""The public surface of telemetry.codec is exactly what is intended."""

from __future__ import annotations

from telemetry import codec

EXPECTED = {
    "HEADER_MESSAGE",
    "HEADER_REASON",
    "HEADER_SCHEMA_ID",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TOPIC",
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
    "load_schema_file",
    "output_encoder",
    "register_readings",
}
"""No wire-format internals (framing, magic byte, subject naming): those stay in the package."""


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


def test_the_schema_source_error_lives_in_errors_only() -> None:
    """A registry outage is no codec error: it is raised from :mod:`telemetry.errors`."""
    assert not hasattr(codec, "SchemaSourceError")
