"""Offset tracking and acknowledgement handles: what a partition may commit."""

from __future__ import annotations

from telemetry.kafka import Output, PartitionOffsets, Pending


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
