"""The window kinds the configuration knows, by their YAML ``kind``.

Adding a kind: a module with its spec (a frozen dataclass following
:class:`~telemetry.windows._kind.PluginSpec`, runtime included) and one line in
:data:`WINDOW_KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry.windows._sliding import Sliding
from telemetry.windows._specs import Hopping, Session, Tumbling


def _by_kind(*specs: type[Any]) -> dict[str, type[Any]]:
    return {spec.kind_name: spec for spec in specs}


WINDOW_KINDS: Mapping[str, type[Any]] = _by_kind(
    Tumbling,
    Hopping,
    Session,
    Sliding,
)
"""YAML ``kind`` -> spec class."""

_BY_SYMBOL = {spec.symbol: spec for spec in WINDOW_KINDS.values()}


def rollup_label(rollup: Mapping[str, Any]) -> str:
    """The metrics label of a rollup: ``<kind>-<size>ms``, or ``<kind>`` alone for kinds whose
    sizes vary per key (one label for all of them keeps the cardinality fixed)."""
    symbol = str(rollup["window_kind"])
    kind = symbol.lower()
    spec = _BY_SYMBOL.get(symbol)
    return f"{kind}-{rollup['window_size_ms']}ms" if spec is None or spec.fixed_size else kind
