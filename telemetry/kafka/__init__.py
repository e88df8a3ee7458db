"""Kafka stages: the consumer-group source, the producer sink and offset tracking; topic
administration (probe the broker, check or create the configured topics)."""

from telemetry.kafka._admin import (
    CLEANUP_POLICY,
    CONNECT_TIMEOUT_S,
    TopicPlan,
    admin_client,
    changelog_plan,
    client_config,
    ensure_topics,
    probe_kafka,
    require_topics,
    topic_plans,
)
from telemetry.kafka._offsets import PartitionOffsets
from telemetry.kafka._records import Ack, Headers, Output, Pending, Record
from telemetry.kafka._sink import KafkaSink
from telemetry.kafka._source import KafkaSource
from telemetry.metrics import KafkaMetrics

__all__ = [
    "CLEANUP_POLICY",
    "CONNECT_TIMEOUT_S",
    "Ack",
    "Headers",
    "KafkaMetrics",
    "KafkaSink",
    "KafkaSource",
    "Output",
    "PartitionOffsets",
    "Pending",
    "Record",
    "TopicPlan",
    "admin_client",
    "changelog_plan",
    "client_config",
    "ensure_topics",
    "probe_kafka",
    "require_topics",
    "topic_plans",
]
