"""Plug-in kinds (sliding windows, z-score rules) in the changelog: written by both writers
alike, and a restore (also after a crash mid-checkpoint) matches an uninterrupted run."""

from __future__ import annotations

import pytest

from telemetry.aggregate import Aggregator, Event
from telemetry.aggregate._keywriter import encode_key, sketched
from telemetry.aggregate._snapshot import MARKER_KEY, apply, decode, delta, encode, key_record
from telemetry.rules import ThresholdRule, ZScoreRule, ZScoreState
from telemetry.windows import Sliding, Tumbling
from tests.unit.aggregate.test_aggregate_properties import FakeClock
from tests.unit.aggregate.test_snapshot import LATENESS, events, finish, fold, outputs, run

WINDOWS = (Tumbling(1_000), Sliding(2_000, every_ms=250))
RULES = (
    ThresholdRule(name="hot", sensor="s", raise_at=8.0, clear_at=5.0, debounce=2),
    ZScoreRule(name="odd", sensor="s", k=2.0, alpha=0.3, warmup=5),
)


def aggregator(clock: FakeClock, windows: tuple[object, ...] = WINDOWS) -> Aggregator:
    agg = Aggregator(
        windows=windows,  # type: ignore[arg-type]
        rules=RULES,
        allowed_lateness_ms=LATENESS,
        idle_timeout=5.0,
        clock=clock,
    )
    agg.open_partition(0)
    return agg


def test_the_hand_written_writer_gives_fastavro_bytes_for_plugin_state() -> None:
    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    assert not sketched(state)
    stream = events(1_500)
    compared, done = 0, 0
    for stop in (1, 300, 1_500):
        run(agg, stream, done, stop)
        done = stop
        for key in state.keys.values():
            want = encode(stop, key_record(state, key))
            assert encode_key(state, key, stop) == want, key.device
            compared += 1
    assert compared > 40
    body = decode(encode_key(state, next(iter(state.keys.values())), 7))[2]
    names = {x["name"] for x in body["extras"]}
    assert names == {"w:L2000/250", "r:zscore:odd"}
    assert any(w["spec"] == "L2000/250" for w in body["windows"])


@pytest.mark.parametrize("written", [0.0, 0.5, 1.0])
def test_restore_mid_checkpoint_matches_an_uninterrupted_run(written: float) -> None:
    stream = events()
    clock = FakeClock()
    agg = aggregator(clock)
    want_rollups, want_alerts = outputs(run(agg, stream, 0, len(stream)) + finish(agg, clock))
    assert any(k[1] == "SLIDING" for k in want_rollups)
    assert any(a[1] == "odd" for a in want_alerts)

    first_cut, second_cut = 1_000, 1_800
    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    delivered = run(agg, stream, 0, first_cut)
    first, _ = delta(state, None)
    delivered += run(agg, stream, first_cut, second_cut)
    second, _ = delta(state, None)
    keys = [r for r in second if r[0] != MARKER_KEY]
    partial = keys[: int(len(keys) * written)]

    clock2 = FakeClock()
    agg2 = aggregator(clock2)
    state2 = agg2.state(0)
    assert state2 is not None
    _, marker = apply(state2, fold(first, partial), None)
    assert marker == first_cut
    odd = [rs for key in state2.keys.values() for rs in key.rules if isinstance(rs, ZScoreState)]
    assert odd
    assert all(rs.count > 0 for rs in odd)  # the EWMA came back, not a fresh warm-up
    replayed = run(agg2, stream, marker, len(stream)) + finish(agg2, clock2)

    got_rollups, got_alerts = outputs(delivered + replayed)
    assert got_rollups.keys() == want_rollups.keys()
    for key, copies in got_rollups.items():
        assert all(copy == want_rollups[key][0] for copy in copies), key
    assert got_alerts == want_alerts


def test_a_restore_does_not_republish_a_sliding_window() -> None:
    stream: list[Event] = events(2_000)
    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    before = outputs(run(agg, stream, 0, 1_000))[0]
    records, _ = delta(state, None)
    clock2 = FakeClock()
    agg2 = aggregator(clock2)
    state2 = agg2.state(0)
    assert state2 is not None
    apply(state2, fold(records), None)
    assert state2.open_windows() == state.open_windows()
    after = outputs(run(agg2, stream, 1_000, 2_000) + finish(agg2, clock2))[0]
    sliding_before = {k for k in before if k[1] == "SLIDING"}
    assert sliding_before
    assert not sliding_before & after.keys()


def test_a_spec_no_longer_configured_is_dropped_on_restore() -> None:
    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    run(agg, events(500), 0, 500)
    records, _ = delta(state, None)
    agg2 = aggregator(FakeClock(), windows=(Tumbling(1_000),))
    state2 = agg2.state(0)
    assert state2 is not None
    apply(state2, fold(records), None)
    assert state2.open_windows() == sum(len(w) for k in state.keys.values() for w in k.wins)
