"""The sink's bookkeeping that needs no broker: cutting dead letters that do not fit, retries."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from telemetry.errors import KafkaClientError
from telemetry.kafka import KafkaSink, Output
from telemetry.kafka import _sink as sink_module
from telemetry.kafka._sink import CUT_COPY_BYTES, HEADER_ORIGINAL_BYTES, cut_to_fit

TOO_LARGE = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)


def test_only_dead_letters_are_cut() -> None:
    rollup = Output("rollups", b"x" * 2_000_000, b"k")
    assert not cut_to_fit(rollup, TOO_LARGE)
    assert rollup.value == b"x" * 2_000_000


def test_a_dead_letter_is_cut_step_by_step_down_to_a_pointer() -> None:
    original = b"\x07" + b"y" * 1_039_999
    ours = [("telemetry.error.reason", b"bad_magic"), ("telemetry.source.offset", b"42")]
    letter = Output("dlq", original, b"k", [("trace", b"z" * 900_000), *ours])
    letter.cuttable = True
    assert cut_to_fit(letter, TOO_LARGE)  # 1: a cut copy, the original's size in a header
    assert letter.value == original[:CUT_COPY_BYTES]
    assert (HEADER_ORIGINAL_BYTES, b"1040000") in (letter.headers or [])
    assert cut_to_fit(letter, TOO_LARGE)  # 2: without the original's own headers
    assert letter.headers == [*ours, (HEADER_ORIGINAL_BYTES, b"1040000")]
    assert cut_to_fit(letter, TOO_LARGE)  # 3: a pointer only
    assert letter.value is None
    assert letter.headers == [*ours, (HEADER_ORIGINAL_BYTES, b"1040000")]
    assert not cut_to_fit(letter, TOO_LARGE)  # nothing left: the sink escalates


def test_failed_deliveries_are_retried_in_order_and_kept_when_retries_run_out() -> None:
    sink = KafkaSink(name="sink", config={}, max_retries=1, registry=CollectorRegistry())
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT, retriable=True)
    outs = [Output("alerts", f"{i}".encode(), b"k") for i in range(3)]  # RAISED, CLEARED, ...

    def fail_all() -> None:
        for out in outs:
            sink._in_flight += 1
            sink._report(out, timed_out, None)  # type: ignore[arg-type]
        sink._backlog.clear()

    fail_all()
    sink._settle()
    assert list(sink._backlog) == outs  # the original order, not reversed
    fail_all()
    with pytest.raises(KafkaClientError, match="failed 2 time"):
        sink._settle()
    assert list(sink._backlog) == outs  # escalated with every output still queued


def test_a_producer_restart_keeps_every_undelivered_output_and_grants_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outputs stuck in the old producer (its broker unreachable) are purged, come back as
    failed reports and are produced again by the new producer: none is forgotten, none is
    counted as a delivery failure, and the room they hold is not granted upstream again."""
    monkeypatch.setattr(sink_module, "RESTART_FLUSH_S", 0.2)
    registry = CollectorRegistry()
    sink = KafkaSink(name="sink", config={"bootstrap.servers": "127.0.0.1:1"}, registry=registry)
    sink._open()  # as start() does, without a pipeline to grant demand to
    stuck = [Output("alerts", f"{i}".encode(), b"k") for i in range(3)]
    sink._produce(stuck)
    assert sink.in_flight() == 3
    old = sink.producer
    sink.restart()  # a grant would raise here: the sink has no subscription to ask
    assert sink.producer is not old
    assert sink.in_flight() == 3  # all of them, now in the new producer
    assert sink._failed == []
    assert sink._retries == {}
    failures = registry.get_sample_value(
        "telemetry_kafka_delivery_failures_total", {"stage": "sink"}
    )
    assert not failures
    assert sink.producer is not None
    sink.producer.purge()
    sink.producer.flush(1)
