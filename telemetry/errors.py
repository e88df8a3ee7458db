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

Every error says whether trying again later can succeed: ``retriable`` is a class attribute,
False unless the class documents otherwise. Only :class:`SchemaSourceError` and
:class:`RejoinError` are retriable: the package itself retries them (the decode stage's batch,
the member's rejoin). The others mean the input, the configuration or the deployment is wrong,
or that a retry already happened and gave up (librdkafka's own retries, a sink's back-off, a
stage's restart policy).
"""

from __future__ import annotations

from typing import ClassVar


class TelemetryError(Exception):
    """Root of every error raised by this package."""

    retriable: ClassVar[bool] = False
    """Whether the same operation may succeed if tried again later, unchanged."""


class ConfigError(TelemetryError):
    """Configuration is missing, malformed or impossible; the message names the key path."""


class StageError(TelemetryError):
    """A pipeline stage failed and its supervision policy escalated the failure."""


class KafkaClientError(TelemetryError):
    """A Kafka client operation failed.

    Not retriable: it is raised for fatal client errors, a broker that never answered within
    the configured timeout, and deliveries that failed after librdkafka's own retries; transient
    broker trouble is retried inside the client and never raised."""

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
    joins again, restoring the committed state.

    Retriable: :class:`telemetry.Member` catches it and runs a new member."""

    retriable: ClassVar[bool] = True


class CodecError(TelemetryError):
    """A record could not be decoded or encoded; ``reason`` is the dead-letter reason label.

    Not retriable: the record itself is at fault, and is dead-lettered."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SchemaSourceError(TelemetryError):
    """The schema source could not answer (registry down, bad credentials, ...).

    Not a :class:`CodecError`: it is not the input's fault, so the batch is retried later,
    never dead-lettered. Retriable: the decode stage raises it before emitting anything of the
    batch, supervision restarts the stage, and the records stay uncommitted until decoded."""

    retriable: ClassVar[bool] = True


class StateError(TelemetryError):
    """The state changelog could not be read, restored or written.

    Not retriable: the writes were already retried by the producer, and a restore that cannot
    be read will not read differently; the process stops with its offsets uncommitted."""


class SinkError(TelemetryError):
    """An output sink (``App(config, sinks=[...])``) failed an output it could not deliver.

    Not retriable: the sink gives up only after its own retries and back-off."""


class WorkerError(TelemetryError):
    """``telemetry run --workers N``: a worker process did not drain and exit with 0 when the
    pod stopped (it had died, was killed at the stop deadline, or failed)."""
