"""Output sinks besides Kafka: the plug-in protocol, the fan-out that acks across sinks, and the
sinks that ship (an HTTP webhook)."""

from telemetry.sinks._protocol import Delivery, OutputSink, Reports, SinkContext, SinkSpec
from telemetry.sinks._registry import SINK_KINDS
from telemetry.sinks._stage import Broadcast, SinkStage
from telemetry.sinks._webhook import Webhook, WebhookSink

__all__ = [
    "SINK_KINDS",
    "Broadcast",
    "Delivery",
    "OutputSink",
    "Reports",
    "SinkContext",
    "SinkSpec",
    "SinkStage",
    "Webhook",
    "WebhookSink",
]
