"""A simulated device fleet: pure and deterministic for a seed and a sequence of clock readings.

Each (device, sensor) has its own signal: a baseline drawn around the sensor's typical value,
a slow linear drift, a daily cycle (with a per-device phase) and Gaussian noise. On top of it:
anomalies (spikes), devices that go silent after a while, out-of-order and late event times, a
mix of schema v1 and v2, and broken records of several kinds, each tagged with the dead-letter
reason the processor should give it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from telemetry.codec import SCHEMA_DIR, Encoder, LocalSchemaSource, Reason
from telemetry.errors import ConfigError

READING_V1_ID = 1
READING_V2_ID = 2
"""Schema ids of SensorReading v1 and v2 in ``schemas/registry.json``."""
UNKNOWN_SCHEMA_ID = 999_999
DAY_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
FUTURE_SHIFT_MS = 30 * DAY_MS
"""Shift of a ``future_timestamp`` record: beyond the default ``processing.max_future_ms``."""
PAST_SHIFT_MS = 11 * 365 * DAY_MS
"""Shift back of a ``bad_timestamp`` record: beyond the default ``processing.max_past_ms``."""

Kind = Literal["normal", "anomaly", "out_of_order", "late", "broken"]
KINDS: tuple[Kind, ...] = ("normal", "anomaly", "out_of_order", "late", "broken")

BROKEN_KINDS: Mapping[str, Reason] = {
    "bad_magic": Reason.BAD_MAGIC,
    "too_short": Reason.TOO_SHORT,
    "no_value": Reason.TOO_SHORT,
    "unknown_schema": Reason.UNKNOWN_SCHEMA,
    "truncated": Reason.TRUNCATED,
    "trailing_bytes": Reason.TRAILING_BYTES,
    "non_finite": Reason.NON_FINITE,
    "bad_timestamp": Reason.BAD_TIMESTAMP,
    "future_timestamp": Reason.FUTURE_TIMESTAMP,
}
"""Each kind of broken record, and the dead-letter reason the decoder gives it."""


@dataclass(frozen=True, slots=True)
class SensorProfile:
    """Typical behaviour of one kind of sensor."""

    baseline: float
    spread: float
    """Standard deviation of the per-device baseline around ``baseline``."""
    daily_amplitude: float
    noise: float
    drift_per_hour: float
    """Largest drift; each device draws its own in ``[-drift, +drift]``."""
    spike: float
    unit: str | None
    low: float = -math.inf
    high: float = math.inf


PROFILES: Mapping[str, SensorProfile] = {
    "temperature": SensorProfile(21.0, 3.0, 3.0, 0.2, 0.3, 25.0, "Cel"),
    "humidity": SensorProfile(45.0, 10.0, 8.0, 1.0, 1.0, 40.0, "%", 0.0, 100.0),
    "pressure": SensorProfile(1013.0, 5.0, 2.0, 0.3, 0.2, 60.0, "hPa"),
    "co2": SensorProfile(600.0, 100.0, 150.0, 10.0, 5.0, 2000.0, "ppm", 0.0),
}
DEFAULT_PROFILE = SensorProfile(50.0, 10.0, 5.0, 1.0, 0.5, 50.0, None)


@dataclass(frozen=True, kw_only=True)
class FleetSpec:
    """What to simulate; fractions are per reading unless named per device."""

    devices: int = 10
    sensors: tuple[str, ...] = ("temperature", "humidity")
    seed: int = 0
    anomaly_rate: float = 0.001
    silent_fraction: float = 0.0
    """Fraction of devices that stop sending (at least one device always keeps sending)."""
    silent_after_ms: int = 20_000
    """A silent device stops between half of this and this long after the start."""
    out_of_order_fraction: float = 0.0
    out_of_order_max_ms: int = 3_000
    """Out-of-order readings are up to this much older than now (inside the allowed lateness)."""
    late_fraction: float = 0.0
    late_by_ms: int = 120_000
    """Late readings are this much older than now (their windows have closed)."""
    broken_fraction: float = 0.0
    v1_fraction: float = 0.2
    device_prefix: str = "dev"

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ConfigError("--devices: must be >= 1")
        if not self.sensors or not all(self.sensors):
            raise ConfigError("--sensors: name at least one sensor")
        fractions = {
            "--anomaly-rate": self.anomaly_rate,
            "--silent-fraction": self.silent_fraction,
            "--out-of-order-fraction": self.out_of_order_fraction,
            "--late-fraction": self.late_fraction,
            "--broken-fraction": self.broken_fraction,
            "--v1-fraction": self.v1_fraction,
        }
        for flag, value in fractions.items():
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{flag}: must be in [0, 1], got {value}")
        per_reading = (
            self.anomaly_rate + self.out_of_order_fraction + self.late_fraction
        ) + self.broken_fraction
        if per_reading > 1.0:
            raise ConfigError(
                "--anomaly-rate + --out-of-order-fraction + --late-fraction + --broken-fraction"
                f" must be <= 1, got {per_reading:g}"
            )
        for flag, ms in {
            "--silent-after": self.silent_after_ms,
            "out_of_order_max_ms": self.out_of_order_max_ms,
            "late_by_ms": self.late_by_ms,
        }.items():
            if ms < 1:
                raise ConfigError(f"{flag}: must be > 0")


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One Kafka record to produce, with what it is meant to exercise."""

    key: bytes
    value: bytes | None
    device_id: str
    sensor: str
    ts: int
    kind: Kind
    schema_id: int | None
    broken: str | None = None
    """The kind of broken record (a key of :data:`BROKEN_KINDS`), or None."""


@dataclass(slots=True)
class _Channel:
    sensor: str
    profile: SensorProfile
    baseline: float
    drift_per_hour: float
    phase: float


@dataclass(slots=True)
class _Device:
    device_id: str
    key: bytes
    channels: list[_Channel]
    firmware: str
    battery: float | None
    silent_at: int | None
    seq: int = 0


class Fleet:
    """Generates :class:`SimRecord` s one at a time, round-robin over (device, sensor)."""

    def __init__(self, spec: FleetSpec, *, start_ms: int, encoder: Encoder | None = None) -> None:
        self.spec = spec
        self.start_ms = start_ms
        self._rng = random.Random(spec.seed)  # noqa: S311  # simulation, not cryptography
        self._encoder = encoder or reading_encoder()
        silent = min(int(spec.devices * spec.silent_fraction), spec.devices - 1)
        width = max(5, len(str(spec.devices - 1)))
        self._devices = [
            self._make_device(f"{spec.device_prefix}-{index:0{width}d}", index < silent)
            for index in range(spec.devices)
        ]
        self._pairs = [(d, c) for d in self._devices for c in d.channels]
        self._cursor = 0

    @property
    def device_ids(self) -> list[str]:
        return [device.device_id for device in self._devices]

    def silent_devices(self, now_ms: int) -> list[str]:
        """Devices that have stopped sending by ``now_ms``."""
        return [d.device_id for d in self._devices if _is_silent(d, now_ms)]

    def next(self, now_ms: int) -> SimRecord | None:
        """The next record at wall-clock ``now_ms``; None if every device is silent."""
        for _ in range(len(self._pairs)):
            device, channel = self._pairs[self._cursor]
            self._cursor = (self._cursor + 1) % len(self._pairs)
            if not _is_silent(device, now_ms):
                return self._record(device, channel, now_ms)
        return None

    # -- internals -----------------------------------------------------------------------

    def _make_device(self, device_id: str, goes_silent: bool) -> _Device:
        rng = self._rng
        channels = []
        for sensor in self.spec.sensors:
            profile = PROFILES.get(sensor, DEFAULT_PROFILE)
            channels.append(
                _Channel(
                    sensor=sensor,
                    profile=profile,
                    baseline=rng.gauss(profile.baseline, profile.spread),
                    drift_per_hour=rng.uniform(-1.0, 1.0) * profile.drift_per_hour,
                    phase=rng.uniform(0.0, 2 * math.pi),
                )
            )
        silent_at = None
        if goes_silent:
            after = self.spec.silent_after_ms
            silent_at = self.start_ms + int(after * rng.uniform(0.5, 1.0))
        return _Device(
            device_id=device_id,
            key=device_id.encode(),
            channels=channels,
            firmware=f"1.{rng.randrange(5)}.{rng.randrange(10)}",
            battery=rng.uniform(0.3, 1.0) if rng.random() < 0.7 else None,
            silent_at=silent_at,
        )

    def _signal(self, channel: _Channel, ts: int) -> float:
        profile = channel.profile
        elapsed_h = (ts - self.start_ms) / HOUR_MS
        daily = profile.daily_amplitude * math.sin(
            2 * math.pi * (ts % DAY_MS) / DAY_MS + channel.phase
        )
        noise = self._rng.gauss(0.0, profile.noise)
        return channel.baseline + channel.drift_per_hour * elapsed_h + daily + noise

    def _record(self, device: _Device, channel: _Channel, now_ms: int) -> SimRecord:
        spec, rng = self.spec, self._rng
        draw = rng.random()
        kind: Kind = "normal"
        ts = now_ms
        edges = (
            ("broken", spec.broken_fraction),
            ("late", spec.late_fraction),
            ("out_of_order", spec.out_of_order_fraction),
            ("anomaly", spec.anomaly_rate),
        )
        edge = 0.0
        for name, fraction in edges:
            edge += fraction
            if draw < edge:
                kind = name  # type: ignore[assignment]  # names above are Kind literals
                break
        if kind == "late":
            ts = now_ms - spec.late_by_ms
        elif kind == "out_of_order":
            ts = now_ms - rng.randint(1, spec.out_of_order_max_ms)
        value = self._signal(channel, ts)
        if kind == "anomaly":
            direction = 1.0 if rng.random() < 0.8 else -1.0  # mostly upward
            value += direction * channel.profile.spike * rng.uniform(0.8, 1.2)
        value = min(max(value, channel.profile.low), channel.profile.high)
        device.seq += 1
        schema_id = READING_V1_ID if rng.random() < spec.v1_fraction else READING_V2_ID
        reading: dict[str, Any] = {
            "device_id": device.device_id,
            "sensor": channel.sensor,
            "ts": ts,
            "value": round(value, 3),
            "seq": device.seq,
        }
        if schema_id == READING_V2_ID:
            if device.battery is not None:
                device.battery = max(0.0, device.battery - 1e-6)
            reading["unit"] = channel.profile.unit
            reading["battery_level"] = device.battery
            reading["firmware"] = device.firmware
        if kind == "broken":
            broken = rng.choice(list(BROKEN_KINDS))
            return SimRecord(
                key=device.key,
                value=self._break(broken, schema_id, reading),
                device_id=device.device_id,
                sensor=channel.sensor,
                ts=reading["ts"],
                kind=kind,
                schema_id=schema_id,
                broken=broken,
            )
        return SimRecord(
            key=device.key,
            value=self._encoder.encode(schema_id, reading),
            device_id=device.device_id,
            sensor=channel.sensor,
            ts=ts,
            kind=kind,
            schema_id=schema_id,
        )

    def _break(  # noqa: PLR0911  # one return per kind of damage
        self, broken: str, schema_id: int, reading: dict[str, Any]
    ) -> bytes | None:
        if broken == "no_value":
            return None
        if broken == "too_short":
            return b"\x00\x00\x01"
        if broken == "non_finite":
            reading["value"] = math.nan
        elif broken == "bad_timestamp":
            reading["ts"] -= PAST_SHIFT_MS
        elif broken == "future_timestamp":
            reading["ts"] += FUTURE_SHIFT_MS
        framed = self._encoder.encode(schema_id, reading)
        if broken == "bad_magic":
            return b"\x01" + framed[1:]
        if broken == "unknown_schema":
            # Confluent framing: magic byte, 4-byte big-endian schema id, Avro body.
            return framed[:1] + UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + framed[5:]
        if broken == "truncated":
            return framed[: 5 + len(framed[5:]) // 2]
        if broken == "trailing_bytes":
            return framed + b"\x02\x04"
        return framed


def _is_silent(device: _Device, now_ms: int) -> bool:
    return device.silent_at is not None and now_ms >= device.silent_at


def reading_encoder() -> Encoder:
    """An encoder for SensorReading v1 (id 1) and v2 (id 2) from the bundled schemas."""
    schemas = LocalSchemaSource(SCHEMA_DIR).schema_ids
    return Encoder({READING_V1_ID: schemas[READING_V1_ID], READING_V2_ID: schemas[READING_V2_ID]})
