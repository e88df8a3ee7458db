"""The fleet generator: deterministic, realistic, and every disorder decodes as intended."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from telemetry.codec import LocalSchemaSource, ReadingDecoder
from telemetry.errors import ConfigError
from telemetry.simulate import BROKEN_KINDS, Fleet, FleetSpec, SimRecord, wall_clock_ms

# The timestamp reasons are relative to the decoder's wall clock: the generated stretch (up to
# three hours) must end before now, or its last readings would be from the future.
START = wall_clock_ms() - 3 * 3600 * 1000


def run(spec: FleetSpec, n: int, step_ms: int = 100) -> list[SimRecord]:
    fleet = Fleet(spec, start_ms=START)
    out = []
    for i in range(n):
        record = fleet.next(START + i * step_ms)
        assert record is not None
        out.append(record)
    return out


def test_same_seed_same_records() -> None:
    spec = FleetSpec(devices=5, seed=42, broken_fraction=0.1, late_fraction=0.1)
    assert run(spec, 500) == run(spec, 500)
    assert run(spec, 500) != run(FleetSpec(devices=5, seed=43), 500)


def test_round_robin_over_devices_and_sensors_keyed_by_device() -> None:
    records = run(FleetSpec(devices=3, sensors=("temperature", "humidity", "co2")), 9)
    pairs = [(r.device_id, r.sensor) for r in records]
    assert len(set(pairs)) == 9
    assert all(r.key == r.device_id.encode() for r in records)


def test_clean_records_decode_with_increasing_seq_per_device() -> None:
    records = run(FleetSpec(devices=4, seed=1, v1_fraction=0.5), 400)
    decoder = ReadingDecoder(LocalSchemaSource())
    readings, failures = decoder.decode_batch([r.value for r in records])
    assert failures == []
    assert len(readings) == 400
    # Confluent framing: bytes 1-4 hold the big-endian schema id.
    schema_ids = Counter(int.from_bytes((r.value or b"")[1:5], "big") for r in records)
    assert set(schema_ids) == {1, 2}
    assert 100 < schema_ids[1] < 300
    for device in {r["device_id"] for r in readings}:
        seqs = [r["seq"] for r in readings if r["device_id"] == device]
        assert seqs == list(range(1, len(seqs) + 1))
    v2 = [r for rec, r in zip(records, readings, strict=True) if rec.schema_id == 2]
    assert {r["unit"] for r in v2 if r["sensor"] == "temperature"} == {"Cel"}


def test_signals_are_plausible_and_anomalies_stand_out() -> None:
    records = run(FleetSpec(devices=20, seed=3, anomaly_rate=0.02), 20_000, step_ms=500)
    readings, _ = ReadingDecoder(LocalSchemaSource()).decode_batch([r.value for r in records])
    normal = [
        r["value"]
        for rec, r in zip(records, readings, strict=True)
        if rec.kind == "normal" and r["sensor"] == "temperature"
    ]
    spikes = [
        r["value"]
        for rec, r in zip(records, readings, strict=True)
        if rec.kind == "anomaly" and r["sensor"] == "temperature"
    ]
    assert 15 < statistics.mean(normal) < 27
    assert max(normal) < 40
    assert spikes
    assert sum(v > 40 for v in spikes) > len(spikes) / 2
    humidity = [r["value"] for r in readings if r["sensor"] == "humidity"]
    assert all(0 <= v <= 100 for v in humidity)


def test_out_of_order_and_late_timestamps() -> None:
    spec = FleetSpec(devices=5, seed=9, out_of_order_fraction=0.2, late_fraction=0.1)
    fleet = Fleet(spec, start_ms=START)
    kinds: Counter[str] = Counter()
    for i in range(2000):
        now = START + 200_000 + i * 10
        record = fleet.next(now)
        assert record is not None
        kinds[record.kind] += 1
        if record.kind == "late":
            assert record.ts == now - spec.late_by_ms
        elif record.kind == "out_of_order":
            assert now - spec.out_of_order_max_ms <= record.ts < now
        else:
            assert record.ts == now
    assert 300 < kinds["out_of_order"] < 500
    assert 100 < kinds["late"] < 300


def test_broken_records_get_their_dead_letter_reason() -> None:
    records = run(FleetSpec(devices=5, seed=5, broken_fraction=0.3), 3000)
    broken = [r for r in records if r.kind == "broken"]
    assert {r.broken for r in broken} == set(BROKEN_KINDS)
    decoder = ReadingDecoder(LocalSchemaSource())
    readings, failures = decoder.decode_batch([r.value for r in records])
    assert len(readings) + len(failures) == len(records)
    assert len(failures) == len(broken)
    for failure in failures:
        record = records[failure.position]
        assert record.broken is not None
        assert failure.reason == BROKEN_KINDS[record.broken], record.broken


def test_silent_devices_stop_and_one_keeps_going() -> None:
    spec = FleetSpec(devices=4, seed=2, silent_fraction=0.5, silent_after_ms=10_000)
    fleet = Fleet(spec, start_ms=START)
    assert fleet.silent_devices(START) == []
    late = [fleet.next(START + 10_000 + i) for i in range(100)]
    assert len(fleet.silent_devices(START + 10_000)) == 2
    assert {r.device_id for r in late if r is not None} == set(fleet.device_ids) - set(
        fleet.silent_devices(START + 10_000)
    )
    everyone = Fleet(FleetSpec(devices=3, silent_fraction=1.0), start_ms=START)
    assert len(everyone.silent_devices(START + 10**9)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"devices": 0}, "--devices"),
        ({"sensors": ()}, "--sensors"),
        ({"late_fraction": 1.5}, "--late-fraction: must be in [0, 1]"),
        ({"broken_fraction": 0.6, "late_fraction": 0.6}, "must be <= 1"),
        ({"silent_after_ms": 0}, "--silent-after"),
    ],
)
def test_bad_specs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        FleetSpec(**kwargs)  # type: ignore[arg-type]
