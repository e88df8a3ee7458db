"""The public surface of telemetry.codec keeps the wire format private."""

from __future__ import annotations

from telemetry import codec

WIRE_FORMAT = ("ENCODE_ERROR", "HEADER_SIZE", "MAGIC_BYTE", "frame_header", "split_header")
"""Framing internals: they stay in the package (tests/unit/test_api_surface.py holds every
subpackage's ``__all__`` to what it defines)."""


def test_wire_format_internals_are_not_exported() -> None:
    for name in (*WIRE_FORMAT, "value_subject"):
        assert name not in codec.__all__
        assert not hasattr(codec, name), name


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
