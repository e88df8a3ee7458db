"""The hand-written changelog writer gives fastavro's bytes for every key state it meets."""

from __future__ import annotations

from telemetry.aggregate import Aggregator, Event
from telemetry.aggregate._keywriter import encode_key, sketched
from telemetry.aggregate._snapshot import decode, encode, key_change, key_record
from telemetry.windows import Hopping, Session, Tumbling
from tests.unit.aggregate.test_aggregate_properties import FakeClock, reading
from tests.unit.aggregate.test_snapshot import LATENESS, RULES, T0, events, finish, run

WINDOWS = (Tumbling(1_000), Hopping(2_000, 1_000), Session(300))


def test_every_key_state_of_an_out_of_order_run_is_written_as_fastavro_writes_it() -> None:
    clock = FakeClock()
    agg = Aggregator(
        windows=WINDOWS, rules=RULES, allowed_lateness_ms=LATENESS, idle_timeout=5.0, clock=clock
    )
    agg.open_partition(0)
    state = agg.state(0)
    assert state is not None
    assert not sketched(state)
    stream = events()
    extremes: list[Event] = [
        (0, len(stream) + i, reading("dx", "s", T0 + 7 * i, v, len(stream) + i))
        for i, v in enumerate((1.7e308, -1.7e308, -0.0, 1e-310, -3.5, 2.0**62))
    ]
    compared, done = 0, 0
    for stop in (1, 200, 1_500, len(stream)):
        run(agg, stream, done, stop)
        done = stop
        for covers in (0, stop, 2**62):
            for key in state.keys.values():
                want = encode(covers, key_record(state, key))
                assert encode_key(state, key, covers) == want, key.device
                compared += 1
    run(agg, extremes, 0, len(extremes))
    finish(agg, clock)
    for key in state.keys.values():
        assert encode_key(state, key, -1) == encode(-1, key_record(state, key))
        assert decode(encode_key(state, key, 5))[0] == 5
    assert compared > 100


def test_keys_with_a_quantile_sketch_take_the_general_writer() -> None:
    agg = Aggregator(
        windows=(Tumbling(1_000, percentiles=True),),
        rules=(),
        allowed_lateness_ms=LATENESS,
        idle_timeout=5.0,
        clock=FakeClock(),
    )
    agg.open_partition(0)
    state = agg.state(0)
    assert state is not None
    run(agg, events(200), 0, 200)
    assert sketched(state)
    key = next(iter(state.keys.values()))
    _, value, _ = key_change(state, key, 10)
    assert value == encode(10, key_record(state, key))
    assert decode(value)[2]["windows"][0]["sketch"] is not None
