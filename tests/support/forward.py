"""The simplest pipeline: consume, forward each record unchanged to another topic, commit.

Used by the integration tests and the passthrough benchmark; not part of the product."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from telemetry.kafka import KafkaMetrics, KafkaSink, KafkaSource, Output, Record
from telemetry.stages import Pipeline, Processor


class Forward(Processor[Record, Output]):
    """Map each consumed record to an output on ``topic`` (same key and value)."""

    def __init__(self, *, name: str, topic: str, buffer_size: int = 10_000) -> None:
        super().__init__(name=name, buffer_size=buffer_size)
        self.topic = topic

    def process(self, events: list[Record]) -> list[Output]:
        topic = self.topic
        forward = Output.forward
        return [forward(record, topic) for record in events]


def forwarding_pipeline(
    *,
    bootstrap: str,
    group: str,
    input_topic: str,
    output_topic: str,
    consumer_config: Mapping[str, Any] | None = None,
    producer_config: Mapping[str, Any] | None = None,
    registry: CollectorRegistry | None = None,
    max_demand: int = 5_000,
    sink: KafkaSink | None = None,
) -> tuple[Pipeline, KafkaSource, KafkaSink]:
    """source -> forward -> sink, with revokes finishing the sink's deliveries first."""
    registry = registry if registry is not None else CollectorRegistry()
    # One set of Kafka metrics for the source and the sink (a given sink brings its own).
    metrics = sink.metrics if sink is not None else KafkaMetrics(registry)
    source = KafkaSource(
        name="source",
        config={"bootstrap.servers": bootstrap, "group.id": group, **(consumer_config or {})},
        topics=[input_topic],
        metrics=metrics,
    )
    forward = Forward(name="forward", topic=output_topic)
    if sink is None:
        sink = KafkaSink(
            name="sink",
            config={"bootstrap.servers": bootstrap, **(producer_config or {})},
            metrics=metrics,
        )
    source.revoke_listeners.append(sink.finish)
    pipeline = Pipeline(registry=registry)
    pipeline.subscribe(forward, source, max_demand=max_demand, min_demand=max_demand // 2)
    pipeline.subscribe(sink, forward, max_demand=sink.window, min_demand=0, manual=True)
    return pipeline, source, sink
