"""A transactional call that librdkafka never returns from is given up, and the member rejoins."""

from __future__ import annotations

import threading
from typing import cast

import pytest
from confluent_kafka import Producer, TopicPartition
from prometheus_client import CollectorRegistry

from telemetry.errors import RejoinError
from telemetry.kafka import _transactions
from telemetry.kafka._transactions import Transactions


class _StuckProducer:
    """commit_transaction blocks past its timeout, as librdkafka did after a broker restart."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[list[TopicPartition]] = []

    def send_offsets_to_transaction(
        self, offsets: list[TopicPartition], metadata: object, timeout: float
    ) -> None:
        del metadata, timeout
        self.sent.append(offsets)

    def commit_transaction(self, timeout: float) -> None:
        del timeout
        self.release.wait(30)

    def begin_transaction(self) -> None:
        pass


def test_a_commit_stuck_inside_librdkafka_gives_the_producer_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transactions, "STUCK_AFTER_S", 0.3)
    registry = CollectorRegistry()
    transactions = Transactions({}, "g-1", timeout_ms=10_000, registry=registry)
    stuck = _StuckProducer()
    transactions.producer = cast(Producer, stuck)
    try:
        with pytest.raises(RejoinError, match="did not return within 0 s"):
            transactions.commit([TopicPartition("r", 0, 7)], object())
        assert stuck.sent == [[TopicPartition("r", 0, 7)]]
        assert transactions.producer is None  # given up, not closed: a call is inside it
        assert registry.get_sample_value("telemetry_transaction_stuck_total") == 1
        transactions.stop()  # nothing left to abort
    finally:
        stuck.release.set()


def test_a_commit_that_returns_commits_and_opens_the_next_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transactions, "STUCK_AFTER_S", 5.0)
    registry = CollectorRegistry()
    transactions = Transactions({}, "g-1", timeout_ms=10_000, registry=registry)
    quick = _StuckProducer()
    quick.release.set()
    transactions.producer = cast(Producer, quick)
    transactions.commit([TopicPartition("r", 0, 7)], object())
    assert transactions.producer is cast(Producer, quick)
    assert registry.get_sample_value("telemetry_transactions_total", {"result": "committed"}) == 1
    assert registry.get_sample_value("telemetry_transaction_stuck_total") == 0
