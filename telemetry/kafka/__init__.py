"""Kafka stages: the consumer-group source, the producer sink and offset tracking."""

from telemetry.kafka._forward import Forward, forwarding_pipeline
from telemetry.kafka._offsets import PartitionOffsets
from telemetry.kafka._records import Ack, Headers, Output, Pending, Record
from telemetry.kafka._sink import KafkaSink
from telemetry.kafka._source import KafkaSource
from telemetry.metrics import KafkaMetrics

__all__ = [
    "Ack",
    "Forward",
    "Headers",
    "KafkaMetrics",
    "KafkaSink",
    "KafkaSource",
    "Output",
    "PartitionOffsets",
    "Pending",
    "Record",
    "forwarding_pipeline",
]
