"""Kafka stages: the consumer-group source, the producer sink and offset tracking; the state
changelog's writer and reader, and the exactly-once transactions around them."""

from telemetry.kafka._changelog import (
    CHANGELOG_CONFIG,
    ChangelogRecord,
    ChangelogWriter,
    Latest,
    read_changelog,
)
from telemetry.kafka._forward import Forward, forwarding_pipeline
from telemetry.kafka._offsets import PartitionOffsets
from telemetry.kafka._records import Ack, Headers, Output, Pending, Record
from telemetry.kafka._sink import KafkaSink
from telemetry.kafka._source import KafkaSource
from telemetry.kafka._transactions import Transactions, transactional_id
from telemetry.metrics import KafkaMetrics

__all__ = [
    "CHANGELOG_CONFIG",
    "Ack",
    "ChangelogRecord",
    "ChangelogWriter",
    "Forward",
    "Headers",
    "KafkaMetrics",
    "KafkaSink",
    "KafkaSource",
    "Latest",
    "Output",
    "PartitionOffsets",
    "Pending",
    "Record",
    "Transactions",
    "forwarding_pipeline",
    "read_changelog",
    "transactional_id",
]
