"""examples/custom_sink.py: the README's custom sink is wired beside Kafka and acks when durable."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from telemetry.aggregate._events import Emitted
from telemetry.kafka import Output
from telemetry.sinks import Delivery, Reports, SinkStage

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "custom_sink.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_sink", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_sink"] = module
    spec.loader.exec_module(module)
    return module


def test_the_sink_is_a_stage_beside_the_kafka_sink(tmp_path: Path) -> None:
    app = _example().build(str(tmp_path / "alerts.jsonl"))
    names = [stage.name for stage in app.pipeline.stages]
    assert names[-2:] == ["sink", "alert-log"]
    assert [type(stage) for stage in app.sinks] == [SinkStage]


def test_alerts_are_appended_then_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = _example().AlertLog(str(path))
    reports = Reports()
    deliveries = []
    for i in range(3):
        out = Output("alerts", b"avro", f"d{i}")
        out.emitted = Emitted("alert", 0, i, {"device_id": f"d{i}", "state": "RAISED"})
        deliveries.append(Delivery(out, reports))
    sink.start()
    sink.send(deliveries)
    sink.stop(1.0)
    assert [json.loads(line)["device_id"] for line in path.read_text().splitlines()] == [
        "d0",
        "d1",
        "d2",
    ]
    assert [error for _, error in reports.take()] == [None, None, None]
