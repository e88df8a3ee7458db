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


def test_nothing_is_committable_before_the_first_offset_is_handed_on() -> None:
    tracker = PartitionOffsets("readings", 0)
    assert tracker.committable() is None
    assert tracker.pending_commit() is None
    tracker.emit([7])
    assert tracker.committable() == 7  # handed on, not done yet


def test_an_offset_is_done_only_when_its_last_holder_releases_it() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([1, 2, 3])
    tracker.hold(2)  # an output of reading 2 (a second holder)
    tracker.hold(2)  # and another (a rollup and an alert of the same reading)
    tracker.release_all([1, 2, 3])  # the aggregation took all three
    assert tracker.committable() == 2
    tracker.release(2)
    assert tracker.committable() == 2  # one holder left
    tracker.release(2)
    assert tracker.committable() == 4
    assert tracker.in_flight() == 0


def test_acknowledgements_out_of_order_never_move_the_commit_past_an_offset_held() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([10, 11, 12, 13, 14])
    for offset in (12, 14, 13):
        tracker.release(offset)
        assert tracker.committable() == 10
    tracker.release(10)
    assert tracker.committable() == 11
    tracker.release(11)
    assert tracker.committable() == 15  # one past the last offset handed on


def test_offsets_handed_on_again_are_held_once_more() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([5, 6])
    tracker.emit([6, 7])  # 6 again while its first holder is still in flight
    tracker.release_all([5, 6, 7])
    assert tracker.committable() == 6
    tracker.release(6)
    assert tracker.committable() == 8


def test_an_open_window_floor_keeps_the_commit_at_or_below_its_oldest_reading() -> None:
    tracker = PartitionOffsets("readings", 0)
    oldest_open: list[int | None] = [3]
    tracker.floor = lambda: oldest_open[0]
    tracker.emit([3, 4, 5])
    tracker.release_all([3, 4, 5])
    assert tracker.committable() == 3
    oldest_open[0] = None  # the window closed and its rollup was delivered
    assert tracker.committable() == 6


def test_a_commit_is_pending_only_once_the_position_moved_past_the_last_commit() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([0, 1])
    tracker.release(0)
    assert tracker.pending_commit() == 1
    tracker.committed = 1
    assert tracker.pending_commit() is None
    tracker.release(1)
    assert tracker.pending_commit() == 2


def test_releasing_more_often_than_held_is_a_bug_while_the_partition_is_assigned() -> None:
    tracker = PartitionOffsets("readings", 0)
    tracker.emit([4])
    tracker.release(4)
    with pytest.raises(RuntimeError, match=r"readings\[0\] offset 4 released more often"):
        tracker.release(4)


def test_a_late_acknowledgement_of_a_revoked_generation_leaves_the_new_one_alone() -> None:
    old = PartitionOffsets("readings", 0)
    old.emit([5, 6])
    out = Output("rollups", b"v", b"k", None, old, 5)
    old.release_all([5, 6])
    old.revoked = True  # the source drops the generation; the assignment comes back
    new = PartitionOffsets("readings", 0)
    new.emit([5, 6])  # replayed from the last commit
    out.ack.settle(out)  # the old output's delivery report arrives late
    out.ack.settle(out)  # even twice (a purge and a report): ignored once revoked
    assert new.held == {5: 1, 6: 1}
    assert new.committable() == 5
