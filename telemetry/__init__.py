"""telemetry: a demand-driven Kafka stream processor for IoT sensor telemetry.

The public surface: :class:`App` (the processor), :class:`Member` (an app that rejoins the
group when exactly-once work is lost, as ``telemetry run`` does), :class:`Config` and
:func:`load_config` (configuration), and the error tree rooted at :class:`TelemetryError`.
Building blocks live in the subpackages (``telemetry.stages``, ``telemetry.kafka``,
``telemetry.codec``, ``telemetry.windows``, ``telemetry.rules``). ``App`` and the configuration
load lazily, so ``telemetry.localkafka`` runs on a bare interpreter before the dependencies are
installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telemetry.errors import (
    CodecError,
    ConfigError,
    KafkaClientError,
    LocalKafkaError,
    StageError,
    TelemetryError,
)

if TYPE_CHECKING:
    from telemetry.app import App
    from telemetry.config import Config, load_config
    from telemetry.member import Member

__version__ = "0.1.0"

__all__ = [
    "App",
    "CodecError",
    "Config",
    "ConfigError",
    "KafkaClientError",
    "LocalKafkaError",
    "Member",
    "StageError",
    "TelemetryError",
    "__version__",
    "load_config",
]

_LAZY = {
    "App": "telemetry.app",
    "Member": "telemetry.member",
    "Config": "telemetry.config",
    "load_config": "telemetry.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'telemetry' has no attribute {name!r}")
    from importlib import import_module  # noqa: PLC0415  # lazy on purpose (see above)

    return getattr(import_module(module), name)
