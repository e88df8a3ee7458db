"""Offset tracking and acknowledgement handles: what a partition may commit."""

from __future__ import annotations

import time

import pytest

from telemetry.kafka import Output, PartitionOffsets, Pending
from telemetry.kafka._offsets import DRAINED_FRESH_S, RECONNECT_GRACE_S, Drained


def test_in_memory_the_commit_waits_for_the_oldest_undelivered_output() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([10, 11, 12])
    tracker.release_all([10, 11, 12])  # taken by the aggregation
    tracker.hold(11)  # an output of offset 11 on its way
    out = Output("rollups", b"v", b"k", None, tracker, 11)
    assert tracker.committable() == 11
    out.ack.settle(out)  # the sink, on its delivery report
    assert tracker.committable() == 13


def test_with_a_changelog_nothing_is_held_and_the_commit_is_the_durable_checkpoint() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.checkpointed = True
    tracker.emit([10, 11, 12])
    tracker.hold(11)
    assert tracker.held == {}
    assert tracker.committable() is None  # no checkpoint durable yet
    tracker.durable = 12
    assert tracker.committable() == 12
    tracker.release_all([10, 11, 12])  # no-ops, never "released more often than held"
    tracker.release(11)


def test_a_pending_handle_counts_its_outputs_down_and_holds_no_offset() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([5])
    handle = Pending()
    out = Output("alerts", b"v", b"k", None, tracker, 5)
    out.ack = handle
    handle.pending += 1
    out.ack.settle(out)
    assert handle.pending == 0
    assert tracker.held == {5: 1}  # the handle's owner decides what is committed


def _caught_up_tracker(drained: Drained) -> PartitionOffsets:
    tracker = PartitionOffsets("readings", 0, drained)
    tracker.emit([10, 11])
    tracker.fetched_until = 12
    tracker.end_offset = 12  # end of partition reached, everything handed on
    return tracker


def test_an_end_of_partition_means_idle_only_while_polls_keep_finding_nothing() -> None:
    drained = Drained()
    tracker = _caught_up_tracker(drained)
    assert not tracker.caught_up()  # never drained: what librdkafka holds is unknown
    drained.at = time.monotonic()
    assert tracker.caught_up()
    # No poll for a while (a restore, a transaction, a stall): librdkafka may have fetched
    # more for this partition since, so it is not idle, although its last end still stands.
    drained.at = time.monotonic() - 2 * DRAINED_FRESH_S
    assert not tracker.caught_up()


def test_a_paused_partition_is_never_idle() -> None:
    drained = Drained()
    tracker = _caught_up_tracker(drained)
    drained.at = time.monotonic()
    tracker.paused = True
    assert not tracker.caught_up()
    tracker.paused = False
    assert tracker.caught_up()


def test_right_after_a_broker_outage_no_end_counts_until_the_producers_could_reconnect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drained = Drained()
    tracker = _caught_up_tracker(drained)
    drained.at = time.monotonic()
    assert tracker.caught_up()
    drained.outage()  # the devices' backlog may still be in their producers
    assert not tracker.caught_up()
    later = time.monotonic() + RECONNECT_GRACE_S + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    drained.at = later
    assert tracker.caught_up()
