"""Dead-letter headers, the counter by reason, and rate-limited logging."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from telemetry.codec import (
    HEADER_MESSAGE,
    HEADER_REASON,
    HEADER_SCHEMA_ID,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    DeadLetter,
    DeadLetterReporter,
    DecodeFailure,
    RateLimitedLog,
    Reason,
)

LOGGER = "telemetry.test.deadletter"


def test_headers_from_failure() -> None:
    failure = DecodeFailure(3, Reason.TRUNCATED, "end of data", 2)
    letter = DeadLetter.from_failure(failure, topic="telemetry.readings", partition=5, offset=99)
    assert letter.headers() == [
        ("telemetry.error.reason", b"truncated"),
        ("telemetry.error.message", b"end of data"),
        ("telemetry.source.topic", b"telemetry.readings"),
        ("telemetry.source.partition", b"5"),
        ("telemetry.source.offset", b"99"),
        ("telemetry.schema.id", b"2"),
    ]
    assert [name for name, _ in letter.headers()] == [
        HEADER_REASON,
        HEADER_MESSAGE,
        HEADER_SOURCE_TOPIC,
        HEADER_SOURCE_PARTITION,
        HEADER_SOURCE_OFFSET,
        HEADER_SCHEMA_ID,
    ]


def test_headers_without_schema_id_and_long_message() -> None:
    letter = DeadLetter(Reason.TOO_SHORT, "x" * 5000, "t", 0, 1)
    headers = dict(letter.headers())
    assert HEADER_SCHEMA_ID not in headers
    assert len(headers[HEADER_MESSAGE]) == 1024


def test_dead_letter_is_frozen() -> None:
    letter = DeadLetter(Reason.TOO_SHORT, "m", "t", 0, 1)
    with pytest.raises(AttributeError):
        letter.reason = "other"  # type: ignore[misc]


def test_reporter_counts_by_reason() -> None:
    registry = CollectorRegistry()
    reporter = DeadLetterReporter(registry=registry)
    name = "telemetry_deadletter_records_total"
    for reason in Reason:
        assert registry.get_sample_value(name, {"reason": reason.value}) == 0.0
    reporter.report_failures(
        [
            DecodeFailure(0, Reason.BAD_MAGIC, "m", None),
            DecodeFailure(1, Reason.BAD_MAGIC, "m", None),
            DecodeFailure(2, Reason.NON_FINITE, "m", 1),
        ]
    )
    reporter.report(Reason.TRUNCATED, "m", count=5)
    assert registry.get_sample_value(name, {"reason": "bad_magic"}) == 2.0
    assert registry.get_sample_value(name, {"reason": "non_finite"}) == 1.0
    assert registry.get_sample_value(name, {"reason": "truncated"}) == 5.0


def test_rate_limited_log_one_line_per_reason_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [100.0]
    log = RateLimitedLog(logging.getLogger(LOGGER), interval=10.0, clock=lambda: clock[0])
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(1000):
        log.record("truncated", "end of data")
    log.record("bad_magic", "magic byte 0x07")
    assert [r.getMessage() for r in caplog.records] == [
        "dead-lettered 1 record(s) with reason truncated; latest: end of data",
        "dead-lettered 1 record(s) with reason bad_magic; latest: magic byte 0x07",
    ]
    caplog.clear()
    clock[0] = 105.0
    log.flush()
    assert caplog.records == []
    clock[0] = 110.0
    log.record("truncated", "cut at 7")
    assert [r.getMessage() for r in caplog.records] == [
        "dead-lettered 1000 record(s) with reason truncated in the last 10s; latest: cut at 7",
    ]
    caplog.clear()
    log.record("truncated", "again")
    log.flush()
    assert caplog.records == []
    log.flush(force=True)
    assert [r.getMessage() for r in caplog.records] == [
        "dead-lettered 1 record(s) with reason truncated in the last 0s; latest: again",
    ]


def test_reporter_logs_through_its_rate_limited_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    log = RateLimitedLog(logging.getLogger(LOGGER), clock=lambda: 0.0)
    reporter = DeadLetterReporter(registry=CollectorRegistry(), log=log)
    for _ in range(50):
        reporter.report(Reason.SCHEMA_MISMATCH, "bad")
    assert len(caplog.records) == 1
