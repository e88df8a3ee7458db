"""The App's wiring (no broker needed: clients connect on start) and the documented example."""

from __future__ import annotations

import gc
import platform

from prometheus_client import CollectorRegistry

from telemetry import __version__
from telemetry.app import GC_YOUNG_THRESHOLD, App, tuned_gc
from telemetry.codec import Reading
from telemetry.config import Config
from telemetry.decode import ReadingEvent
from telemetry.kafka import PartitionOffsets
from tests.support.examples import load_example


def test_default_pipeline_is_source_decode_aggregate_sink() -> None:
    app = App(Config(), registry=CollectorRegistry())
    assert [s.name for s in app.pipeline.stages] == ["source", "decode", "aggregate", "sink"]
    labels = {"version": __version__, "python": platform.python_version()}
    assert app.registry.get_sample_value("telemetry_build_info", labels) == 1.0
    assert not app.alive()
    assert not app.ready()


def test_example_stage_sits_between_decode_and_aggregate_and_converts() -> None:
    app = load_example("custom_stage").build()
    names = [s.name for s in app.pipeline.stages]
    assert names.index("decode") < names.index("fahrenheit") < names.index("aggregate")
    fahrenheit = next(s for s in app.pipeline.stages if s.name == "fahrenheit")
    tracker = PartitionOffsets("readings", 0)
    reading: Reading = {
        "device_id": "d",
        "sensor": "temp_f",
        "ts": 0,
        "value": 212.0,
        "seq": 1,
        "unit": None,
        "battery_level": None,
        "firmware": None,
    }
    [event] = fahrenheit.process([ReadingEvent(reading, tracker, 7)])
    assert isinstance(event, ReadingEvent)
    assert (event.reading["sensor"], event.reading["value"]) == ("temp", 100.0)


def test_the_collector_runs_less_often_while_processing_and_is_restored() -> None:
    before = gc.get_threshold()
    with tuned_gc():
        assert gc.get_threshold() == (max(GC_YOUNG_THRESHOLD, before[0]), *before[1:])
        assert gc.isenabled()
    assert gc.get_threshold() == before
