"""telemetry: a demand-driven Kafka stream processor for IoT sensor telemetry.

The public surface: :class:`App` (the processor), :class:`Member` (an app that rejoins the
group when exactly-once work is lost, as ``telemetry run`` does), :class:`Config` and
:func:`load_config` (configuration), and the error tree rooted at :class:`TelemetryError`.
Building blocks live in the subpackages (``telemetry.stages``, ``telemetry.kafka``,
``telemetry.codec``, ``telemetry.windows``, ``telemetry.rules``).
"""

from __future__ import annotations

from telemetry._version import __version__
from telemetry.app import App
from telemetry.config import Config, load_config
from telemetry.errors import (
    CodecError,
    ConfigError,
    KafkaClientError,
    StageError,
    TelemetryError,
)
from telemetry.member import Member

__all__ = [
    "App",
    "CodecError",
    "Config",
    "ConfigError",
    "KafkaClientError",
    "Member",
    "StageError",
    "TelemetryError",
    "__version__",
    "load_config",
]
