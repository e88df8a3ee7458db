"""Kafka stages: the consumer-group source, the producer sink and offset tracking; the state
changelog's writer and reader, and the exactly-once transactions around them; topic
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
from telemetry.kafka._changelog import (
    CHANGELOG_CONFIG,
    ChangelogRecord,
    ChangelogWriter,
    Latest,
    read_changelog,
)
from telemetry.kafka._offsets import PartitionOffsets
from telemetry.kafka._records import Ack, Headers, Output, Pending, Record
from telemetry.kafka._sink import KafkaSink
from telemetry.kafka._source import KafkaSource
from telemetry.kafka._transactions import Transactions, transactional_id
from telemetry.metrics import KafkaMetrics

__all__ = [
    "CHANGELOG_CONFIG",
    "CLEANUP_POLICY",
    "CONNECT_TIMEOUT_S",
    "Ack",
    "ChangelogRecord",
    "ChangelogWriter",
    "Headers",
    "KafkaMetrics",
    "KafkaSink",
    "KafkaSource",
    "Latest",
    "Output",
    "PartitionOffsets",
    "Pending",
    "Record",
    "TopicPlan",
    "Transactions",
    "admin_client",
    "changelog_plan",
    "client_config",
    "ensure_topics",
    "probe_kafka",
    "read_changelog",
    "require_topics",
    "topic_plans",
    "transactional_id",
]
