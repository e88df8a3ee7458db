"""Python API example: a custom stage and a custom rule, on the same App the CLI runs.

Devices of an older firmware report ``temp_f`` in Fahrenheit; this stage converts those
readings to ``temp`` in Celsius before the windows and rules see them, and an overheat rule
watches the result. Run it against the local broker (``make kafka-up``):

    .venv/bin/python examples/custom_stage.py
"""

from __future__ import annotations

import signal

from telemetry.app import App
from telemetry.config import Config, ProcessingConfig
from telemetry.decode import DecodeEvent, ReadingEvent
from telemetry.rules import ThresholdRule
from telemetry.stages import Processor
from telemetry.windows import Tumbling


class FahrenheitToCelsius(Processor[DecodeEvent, DecodeEvent]):
    """Rewrites ``temp_f`` readings in place; everything else (dead letters too) passes on."""

    def process(self, events: list[DecodeEvent]) -> list[DecodeEvent]:
        for event in events:
            if isinstance(event, ReadingEvent) and event.reading["sensor"] == "temp_f":
                reading = event.reading
                reading["sensor"] = "temp"
                reading["value"] = (reading["value"] - 32.0) * 5.0 / 9.0
        return events


def build() -> App:
    config = Config(
        processing=ProcessingConfig(
            windows=(Tumbling(size_ms=60_000),),
            rules=(
                ThresholdRule(
                    name="overheat",
                    sensor="temp",
                    raise_at=90,
                    clear_at=80,
                    debounce=3,
                    severity="CRITICAL",
                ),
            ),
        )
    )
    return App(config, stages=[FahrenheitToCelsius(name="fahrenheit")])


if __name__ == "__main__":
    app = build()
    signal.signal(signal.SIGINT, lambda *_: app.request_drain())
    signal.signal(signal.SIGTERM, lambda *_: app.request_drain())
    app.run()
