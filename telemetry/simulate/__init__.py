"""Device fleet simulator: a pure generator (:class:`Fleet`), a Kafka loop (:func:`simulate`).

fleet = Fleet(FleetSpec(devices=50, seed=7), start_ms=wall_clock_ms())
simulate(fleet, Producer({"bootstrap.servers": "127.0.0.1:9092"}), "telemetry.readings",
         rate=500, duration=60)
"""

from telemetry.simulate._fleet import BROKEN_KINDS, Fleet, FleetSpec, Kind, SimRecord
from telemetry.simulate._run import Progress, SimStats, simulate, wall_clock_ms

__all__ = [
    "BROKEN_KINDS",
    "Fleet",
    "FleetSpec",
    "Kind",
    "Progress",
    "SimRecord",
    "SimStats",
    "simulate",
    "wall_clock_ms",
]
