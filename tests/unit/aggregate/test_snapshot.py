"""Checkpoints as changelog records, and restores from them: a restored partition that replays
the input after its marker produces exactly what an uninterrupted one did, also when the crash
came halfway through writing a checkpoint (some keys one epoch ahead of the marker)."""

from __future__ import annotations

import io
import math
import random
from typing import Any

import pytest
from fastavro import schemaless_writer

from telemetry.aggregate import ALERT, ROLLUP, Aggregator, Emitted, Event
from telemetry.aggregate._snapshot import (
    _WRITERS,
    FORMAT_V1,
    MARKER_KEY,
    apply,
    decode,
    delta,
    key_record,
)
from telemetry.errors import StateError
from telemetry.kafka._changelog import ChangelogRecord, Latest
from telemetry.rules import RateOfChangeRule, SilentRule, ThresholdRule
from telemetry.windows import Hopping, Session, Tumbling
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading

T0 = 1_700_000_040_000
WINDOWS = (
    Tumbling(1_000, percentiles=True),
    Hopping(2_000, 1_000),
    Session(300),
)
RULES = (
    ThresholdRule(name="hot", sensor="s", raise_at=8.0, clear_at=5.0, debounce=2),
    RateOfChangeRule(name="jump", sensor="s", limit_per_s=30.0, span_ms=500),
    SilentRule(name="quiet", sensor="s", after_ms=700),
)
LATENESS = 400
BATCH = 50


def events(n: int = 3_000, devices: int = 40, seed: int = 3) -> list[Event]:
    """Out of order within the lateness; some devices pause (sessions end, silences fire)."""
    rng = random.Random(seed)
    timed = []
    for i in range(n):
        device = f"d{i % devices}"
        ts = T0 + (i // devices) * 100 + rng.randrange(0, 40)
        if i % devices == 5 and 20 <= i // devices <= 35:
            continue  # a pause: silence raised, then cleared
        value = rng.gauss(5.0, 2.0) + (6.0 if (i // devices) % 17 < 3 else 0.0)
        timed.append((ts + rng.uniform(0, LATENESS - 50), device, ts, value))
    timed.sort()
    return [
        (0, offset, reading(d, "s", ts, v, offset)) for offset, (_, d, ts, v) in enumerate(timed)
    ]


def aggregator(clock: FakeClock) -> Aggregator:
    agg = Aggregator(
        windows=WINDOWS, rules=RULES, allowed_lateness_ms=LATENESS, idle_timeout=5.0, clock=clock
    )
    agg.open_partition(0)
    return agg


def run(agg: Aggregator, stream: list[Event], start: int, stop: int) -> list[Emitted]:
    out: list[Emitted] = []
    for i in range(start, stop, BATCH):
        out.extend(agg.process(stream[i : min(i + BATCH, stop)]))
    return out


def finish(agg: Aggregator, clock: FakeClock) -> list[Emitted]:
    clock.now += 1_000.0  # idle: the clock runs on and closes everything
    out: list[Emitted] = []
    while True:
        more = agg.on_tick(clock.now)
        out.extend(more)
        if not more and not agg.tick_pending():
            return out


def outputs(emitted: list[Emitted]) -> tuple[dict[Any, list[Any]], set[Any]]:
    rollups: dict[Any, list[Any]] = {}
    for e in emitted:
        if e.kind == ROLLUP:
            r = e.record
            key = (r["device_id"], r["window_kind"], r["window_start"], r["window_size_ms"])
            rollups.setdefault(key, []).append(r)
    alerts = {
        (a.record["device_id"], a.record["rule"], a.record["state"], a.record["ts"])
        for a in emitted
        if a.kind == ALERT
    }
    return rollups, alerts


def fold(*writes: list[ChangelogRecord]) -> Latest:
    latest: Latest = {}
    for records in writes:
        for key, value, headers in records:
            latest[key] = (value, headers)
    return latest


def uninterrupted(stream: list[Event]) -> tuple[dict[Any, list[Any]], set[Any]]:
    clock = FakeClock()
    agg = aggregator(clock)
    return outputs(run(agg, stream, 0, len(stream)) + finish(agg, clock))


@pytest.mark.parametrize("written", [0.0, 0.5, 1.0])
def test_restore_after_a_crash_mid_checkpoint_matches_an_uninterrupted_run(
    written: float,
) -> None:
    """``written``: the share of the second checkpoint's key records that reached the
    changelog before the crash (its marker never did)."""
    stream = events()
    want_rollups, want_alerts = uninterrupted(stream)
    first_cut, second_cut = 1_000, 1_800

    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    delivered = run(agg, stream, 0, first_cut)
    first, _ = delta(state, None)
    delivered += run(agg, stream, first_cut, second_cut)  # delivered before the 2nd write
    second, _ = delta(state, None)
    keys = [r for r in second if r[0] != MARKER_KEY]
    partial = keys[: int(len(keys) * written)]
    ahead = {decode(v)[0] for _, v, _ in partial if v is not None}
    assert not partial or ahead == {second_cut}

    clock2 = FakeClock()
    agg2 = aggregator(clock2)
    state2 = agg2.state(0)
    assert state2 is not None
    restored, marker = apply(state2, fold(first, partial), None)
    assert marker == first_cut
    assert restored == len({k for k, _, _ in first + partial if k != MARKER_KEY})
    replayed = run(agg2, stream, marker, len(stream)) + finish(agg2, clock2)

    got_rollups, got_alerts = outputs(delivered + replayed)
    assert got_rollups.keys() == want_rollups.keys()
    for key, copies in got_rollups.items():
        assert all(copy == want_rollups[key][0] for copy in copies), key
    assert got_alerts == want_alerts


def test_a_restored_partition_does_not_reopen_a_window_it_already_emitted() -> None:
    stream = events()
    clock = FakeClock()
    agg = aggregator(clock)
    state = agg.state(0)
    assert state is not None
    before = run(agg, stream, 0, 1_500)
    records, _ = delta(state, None)
    emitted = set(outputs(before)[0])
    agg2 = aggregator(FakeClock())
    state2 = agg2.state(0)
    assert state2 is not None
    _, marker = apply(state2, fold(records), None)
    assert state2.watermark == state.watermark
    assert state2.open_windows() == state.open_windows()
    # A reading far behind the restored watermark is late for every window it would reopen.
    old = (0, 10**9, reading("d1", "s", T0, 1.0, 10**9))
    after = agg2.process([old])
    assert not emitted & set(outputs(after)[0])
    assert marker == 1_500


def test_ttl_evicts_quiet_keys_with_tombstones_and_restore_forgets_them() -> None:
    clock = FakeClock()
    agg = Aggregator(windows=(Tumbling(1_000),), allowed_lateness_ms=0, clock=clock)
    agg.open_partition(0)
    state = agg.state(0)
    assert state is not None
    agg.process([(0, i, reading(f"once-{i}", "s", T0 + i, 1.0, 0)) for i in range(1_000)])
    delta(state, 10_000)
    agg.process([(0, 1_000, reading("late-comer", "s", T0 + 30_000, 1.0, 0))])
    while agg.tick_pending():  # windows left open by the close budget first
        agg.on_tick(clock.now)
    records, evicted = delta(state, 10_000)
    assert evicted == 1_000
    assert set(state.keys) == {("late-comer", "s")}
    tombstones = [r for r in records if r[1] is None]
    assert len(tombstones) == 1_000
    assert all(h == [("covers", b"1001")] for _, _, h in tombstones)
    agg2 = Aggregator(windows=(Tumbling(1_000),), allowed_lateness_ms=0, clock=FakeClock())
    agg2.open_partition(0)
    state2 = agg2.state(0)
    assert state2 is not None
    restored, _ = apply(state2, fold(records), 10_000)
    assert restored == 1
    assert set(state2.keys) == {("late-comer", "s")}


def test_an_unknown_record_format_is_a_state_error() -> None:
    with pytest.raises(StateError, match="unknown format"):
        decode(b"\x07whatever")


def test_wide_windows_survive_a_checkpoint_and_restore() -> None:
    values = [1e300, -1.7e308, 3.0, 1.7e308, 1.7e308, -2e300]
    stream: list[Event] = [
        (0, i, reading("d", "s", T0 + 10 * i, v, i)) for i, v in enumerate(values)
    ]
    closing: Event = (0, len(values), reading("d", "s", T0 + 10_000, 0.0, len(values)))
    want = outputs(run(aggregator(FakeClock()), [*stream, closing], 0, len(values) + 1))[0]

    agg = aggregator(FakeClock())
    state = agg.state(0)
    assert state is not None
    run(agg, stream, 0, 4)
    records, _ = delta(state, None)
    agg2 = aggregator(FakeClock())
    state2 = agg2.state(0)
    assert state2 is not None
    apply(state2, fold(records), None)
    got = outputs(run(agg2, [*stream, closing], 4, len(values) + 1))[0]
    assert got == want
    assert all(math.isfinite(r["stddev"]) for rs in got.values() for r in rs)


def test_a_format_1_record_of_the_first_release_is_read_at_scale_1() -> None:
    agg = aggregator(FakeClock())
    agg.process([(0, 0, reading("d", "s", T0, 2.0, 0)), (0, 1, reading("d", "s", T0 + 1, 4.0, 1))])
    state = agg.state(0)
    assert state is not None
    body = key_record(state, state.keys["d", "s"])
    for window in body["windows"]:
        del window["scale"]  # what the first release wrote
    buffer = io.BytesIO()
    buffer.write(bytes((FORMAT_V1,)))
    record = {"covers": 2, "body": ("iot.telemetry.state.KeyState", body)}
    schemaless_writer(buffer, _WRITERS[FORMAT_V1], record)
    covers, kind, restored = decode(buffer.getvalue())
    assert (covers, kind) == (2, "key")
    assert restored["windows"]
    assert all(w["scale"] == 1.0 and w["m2"] == 2.0 for w in restored["windows"])
