"""Output sinks besides Kafka: the plug-in protocol and the fan-out that acks across sinks."""

from telemetry.sinks._protocol import Delivery, OutputSink, Reports
from telemetry.sinks._stage import Broadcast, SinkStage

__all__ = ["Broadcast", "Delivery", "OutputSink", "Reports", "SinkStage"]
