"""The sink kinds the configuration knows, by their YAML ``kind``.

Adding a kind: a module with its spec (a frozen dataclass following
:class:`~telemetry.sinks.SinkSpec`) and one line in :data:`SINK_KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry.sinks._webhook import Webhook

SINK_KINDS: Mapping[str, type[Any]] = {spec.kind_name: spec for spec in (Webhook,)}
"""YAML ``kind`` -> spec class."""
