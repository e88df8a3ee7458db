"""The one error root of the package.

Every error this package raises on purpose derives from :class:`TelemetryError`, so a user
catches one type::

    TelemetryError
    ├── ConfigError          bad or impossible configuration (the CLI exits with code 2)
    ├── StageError           a stage failed and its restart policy gave up (escalation)
    ├── KafkaClientError     a Kafka client operation failed (carries topic, partition, offset)
    │   └── RejoinError      exactly-once work was aborted or fenced: leave and join again
    ├── CodecError           a record cannot be encoded or decoded (carries a dead-letter reason)
    ├── SchemaSourceError    the schema source cannot answer: retry later, never the record's fault
    ├── StateError           the state changelog cannot be read, restored or written
    ├── SinkError            an output sink gave up on an output (its input stays uncommitted)
    └── WorkerError          a worker of ``telemetry run --workers`` did not drain and exit cleanly
"""

from __future__ import annotations


class TelemetryError(Exception):
    """Root of every error raised by this package."""


class ConfigError(TelemetryError):
    """Configuration is missing, malformed or impossible; the message names the key path."""


class StageError(TelemetryError):
    """A pipeline stage failed and its supervision policy escalated the failure."""


class KafkaClientError(TelemetryError):
    """A Kafka client operation failed."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset


class RejoinError(KafkaClientError):
    """Exactly-once mode: the open transaction was aborted, or this member was fenced (another
    took its partitions). Nothing of it became visible; the processor leaves the group and
    joins again, restoring the committed state."""


class CodecError(TelemetryError):
    """A record could not be decoded or encoded; ``reason`` is the dead-letter reason label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SchemaSourceError(TelemetryError):
    """The schema source could not answer (registry down, bad credentials, ...).

    Not a :class:`CodecError`: it is not the input's fault, so the batch is retried later,
    never dead-lettered."""


class StateError(TelemetryError):
    """The state changelog could not be read, restored or written."""


class SinkError(TelemetryError):
    """An output sink (``App(config, sinks=[...])``) failed an output it could not deliver."""


class WorkerError(TelemetryError):
    """``telemetry run --workers N``: a worker process did not drain and exit with 0 when the
    pod stopped (it had died, was killed at the stop deadline, or failed)."""
