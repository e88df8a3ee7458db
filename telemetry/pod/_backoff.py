"""How long a dead worker waits before the supervisor starts it again.

Doubling from :data:`FIRST_BACKOFF_S` up to :data:`MAX_BACKOFF_S`, so a worker that dies at
once on every start (a broker that is gone, a poison config) costs a process start every 30 s,
not a spinning loop; a worker that had run :data:`HEALTHY_RUN_S` before it died starts over
from the first back-off, so a rare crash is always followed by a quick restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
HEALTHY_RUN_S = 60.0


@dataclass
class RestartBackoff:
    """One worker's back-off; :meth:`after` is asked once per death."""

    first: float = FIRST_BACKOFF_S
    cap: float = MAX_BACKOFF_S
    healthy_after: float = HEALTHY_RUN_S
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def after(self, ran_for: float) -> float:
        """Seconds to wait before restarting a worker that died after running ``ran_for`` s."""
        if ran_for >= self.healthy_after:
            self._next = self.first
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay
