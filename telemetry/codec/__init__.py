"""Avro codec: Confluent wire format, schema resolution, validation, dead-letter records.

Readings are decoded in batches by :class:`ReadingDecoder` with the v2 reader schema into plain
dicts (:class:`Reading`); failures carry one of the :class:`Reason` values. Outputs (rollups,
alerts) are encoded by :class:`Encoder`; :func:`output_encoder` registers their schemas first.
Schemas come from a Confluent Schema Registry (:class:`RegistrySchemaSource`) or from the
``schemas/`` directory (:class:`LocalSchemaSource`).

The Confluent wire-format framing, schema planning and fast reading are internals of this
package; a registry outage raises :class:`telemetry.errors.SchemaSourceError`.
"""

from telemetry.codec._deadletter import (
    HEADER_MESSAGE,
    HEADER_REASON,
    HEADER_SCHEMA_ID,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    DeadLetter,
    DeadLetterReporter,
    RateLimitedLog,
)
from telemetry.codec._decoder import DecodeFailure, Reading, ReadingDecoder
from telemetry.codec._encoder import Encoder, OutputSchemaIds, output_encoder, register_readings
from telemetry.codec._reasons import Reason
from telemetry.codec._records import RecordDecoder
from telemetry.codec._schemas import SCHEMA_DIR, AvroSchema, load_schema_file
from telemetry.codec._sources import LocalSchemaSource, RegistrySchemaSource, SchemaSource

__all__ = [
    "HEADER_MESSAGE",
    "HEADER_REASON",
    "HEADER_SCHEMA_ID",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TOPIC",
    "SCHEMA_DIR",
    "AvroSchema",
    "DeadLetter",
    "DeadLetterReporter",
    "DecodeFailure",
    "Encoder",
    "LocalSchemaSource",
    "OutputSchemaIds",
    "RateLimitedLog",
    "Reading",
    "ReadingDecoder",
    "Reason",
    "RecordDecoder",
    "RegistrySchemaSource",
    "SchemaSource",
    "load_schema_file",
    "output_encoder",
    "register_readings",
]
