"""examples/custom_sink.py: the README's custom sink is wired beside Kafka and acks when durable."""

from __future__ import annotations

import json
from pathlib import Path

from telemetry.aggregate._events import Emitted
from telemetry.kafka import Output
from telemetry.sinks import Delivery, Reports, SinkStage
from tests.support.examples import load_example


def test_the_sink_is_a_stage_beside_the_kafka_sink(tmp_path: Path) -> None:
    app = load_example("custom_sink").build(str(tmp_path / "alerts.jsonl"))
    names = [stage.name for stage in app.pipeline.stages]
    assert names[-2:] == ["sink", "alert-log"]
    assert [type(stage) for stage in app.sinks] == [SinkStage]


def test_alerts_are_appended_then_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = load_example("custom_sink").AlertLog(str(path))
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
