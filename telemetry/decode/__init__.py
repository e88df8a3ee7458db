"""The decode stage: Kafka records to readings, broken records to the dead-letter topic.

:class:`Decode` emits one stream of :data:`DecodeEvent`: :class:`ReadingEvent` for every decoded
reading (holding its input offset until released) and :class:`~telemetry.kafka.Output` for
every dead letter (released by the sink on delivery). Downstream stages pass the outputs on
untouched; :class:`ReadingsToOutputs` finishes readings by re-encoding them to a topic.
"""

from telemetry.decode._stage import Decode, DecodeEvent, ReadingEvent, ReadingsToOutputs

__all__ = [
    "Decode",
    "DecodeEvent",
    "ReadingEvent",
    "ReadingsToOutputs",
]
