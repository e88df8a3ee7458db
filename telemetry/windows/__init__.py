"""Event-time windows: specifications and per-window statistics.

Specs come from configuration: :class:`Tumbling`, :class:`Hopping`, :class:`Session`,
:class:`Sliding` (sizes in milliseconds), registered by their YAML ``kind`` in
:data:`WINDOW_KINDS`. An :class:`Accumulator` keeps the running statistics of one window and
turns them into a ``Rollup`` record (``schemas/rollup.avsc``). Window state, watermarks and
closing live in :mod:`telemetry.aggregate`; a kind outside the built-in three brings its own
runtime (:class:`PluginSpec`, :class:`WindowRuntime`).
"""

from telemetry.windows._accumulator import WIDE, Accumulator, Rollup
from telemetry.windows._kind import PluginSpec, WindowRuntime, WindowSpec
from telemetry.windows._registry import WINDOW_KINDS, rollup_label
from telemetry.windows._sliding import Sliding
from telemetry.windows._specs import (
    DEFAULT_RELATIVE_ACCURACY,
    Hopping,
    Session,
    Tumbling,
    WindowKind,
)

__all__ = [
    "DEFAULT_RELATIVE_ACCURACY",
    "WIDE",
    "WINDOW_KINDS",
    "Accumulator",
    "Hopping",
    "PluginSpec",
    "Rollup",
    "Session",
    "Sliding",
    "Tumbling",
    "WindowKind",
    "WindowRuntime",
    "WindowSpec",
    "rollup_label",
]
