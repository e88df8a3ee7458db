"""One time budget for every step of a shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

STOP_BUDGET_S: Final = 30.0
"""How long a stop may take after the drain: the flushes on revoke, the final commit, the group
leave and the last changelog writes together. The chart's terminationGracePeriodSeconds check
(``helm/telemetry/templates/_helpers.tpl``) is drain_timeout_s + this + 5 s to exit."""


class StopBudget:
    """A deadline shared by the steps of a stop. Each step waits at most its own cap and never
    past the deadline, so the stop stays bounded when every step waits on a broker that is gone.

    The clock starts at the first :meth:`remaining`; a stage's ``start`` calls :meth:`reset`,
    so a stage restarted by its supervision gets the whole budget again.
    """

    def __init__(
        self, seconds: float = STOP_BUDGET_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline: float | None = None

    def remaining(self, cap: float) -> float:
        """Seconds the next step may wait: ``cap``, or less if the deadline is nearer."""
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self.seconds
        return max(0.0, min(cap, self._deadline - now))

    def reset(self) -> None:
        self._deadline = None

    def run(self, step: Callable[[], None], cap: float, name: str) -> bool:
        """Run a blocking call on a thread of its own for at most :meth:`remaining` ``(cap)``;
        True if it ended in time.

        For client calls that take no timeout and can wait for a broker that is gone
        (librdkafka's consumer close can wait up to socket.timeout.ms): past the time the
        caller goes on without it, and the daemon thread ends with the process."""
        thread = threading.Thread(target=step, name=name, daemon=True)
        thread.start()
        thread.join(self.remaining(cap))
        return not thread.is_alive()
