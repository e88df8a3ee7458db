"""source -> decode -> readings to outputs -> sink: the decode path wired end to end.

Used by the integration tests; not part of the product."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from telemetry.codec import DeadLetterReporter, Encoder, ReadingDecoder
from telemetry.decode import Decode, ReadingsToOutputs
from telemetry.kafka import KafkaMetrics, KafkaSink, KafkaSource
from telemetry.stages import Pipeline


@dataclass(frozen=True, slots=True)
class DecodePipeline:
    """The pipeline and its stages, for tests and tools that inspect them."""

    pipeline: Pipeline
    source: KafkaSource
    decode: Decode
    readings: ReadingsToOutputs
    sink: KafkaSink


def decode_pipeline(
    *,
    bootstrap: str,
    group: str,
    input_topic: str,
    readings_topic: str,
    dead_letter_topic: str,
    decoder: ReadingDecoder,
    encoder: Encoder,
    reading_schema_id: int,
    consumer_config: Mapping[str, Any] | None = None,
    producer_config: Mapping[str, Any] | None = None,
    registry: CollectorRegistry | None = None,
    max_demand: int = 5_000,
    decode: Decode | None = None,
) -> DecodePipeline:
    """Decode ``input_topic``; readings re-encoded to ``readings_topic``, failures dead-lettered.

    ``decode`` replaces the default :class:`Decode` stage (e.g. a subclass that measures it);
    its name must not clash with ``source``, ``readings`` or ``sink``. Without it, dead letters
    are counted on ``registry``.
    """
    registry = registry if registry is not None else CollectorRegistry()
    metrics = KafkaMetrics(registry)  # the source's and the sink's
    source = KafkaSource(
        name="source",
        config={"bootstrap.servers": bootstrap, "group.id": group, **(consumer_config or {})},
        topics=[input_topic],
        metrics=metrics,
    )
    if decode is None:
        decode = Decode(
            name="decode",
            decoder=decoder,
            dead_letter_topic=dead_letter_topic,
            reporter=DeadLetterReporter(registry=registry),
        )
    readings = ReadingsToOutputs(
        name="readings", topic=readings_topic, encoder=encoder, schema_id=reading_schema_id
    )
    sink = KafkaSink(
        name="sink",
        config={"bootstrap.servers": bootstrap, **(producer_config or {})},
        metrics=metrics,
    )
    source.revoke_listeners.append(sink.finish)
    pipeline = Pipeline(registry=registry)
    half = max_demand // 2
    pipeline.subscribe(decode, source, max_demand=max_demand, min_demand=half)
    pipeline.subscribe(readings, decode, max_demand=max_demand, min_demand=half)
    pipeline.subscribe(sink, readings, max_demand=sink.window, min_demand=0, manual=True)
    return DecodePipeline(pipeline, source, decode, readings, sink)
