"""Event-time windows: specifications and per-window statistics.

Specs come from configuration: :class:`Tumbling`, :class:`Hopping`, :class:`Session` (sizes in
milliseconds). An :class:`Accumulator` keeps the running statistics of one window and turns them
into a ``Rollup`` record (``schemas/rollup.avsc``). Window state, watermarks and closing live in
:mod:`telemetry.aggregate`.
"""

from telemetry.windows._accumulator import Accumulator, Rollup
from telemetry.windows._specs import (
    DEFAULT_RELATIVE_ACCURACY,
    Hopping,
    Session,
    Tumbling,
    WindowKind,
    WindowSpec,
    window_kind,
)

__all__ = [
    "DEFAULT_RELATIVE_ACCURACY",
    "Accumulator",
    "Hopping",
    "Rollup",
    "Session",
    "Tumbling",
    "WindowKind",
    "WindowSpec",
    "window_kind",
]
