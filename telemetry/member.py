"""One member of the consumer group for the life of the process.

In exactly-once mode a lost transaction (aborted, fenced, or a producer that cannot start, as
on a broker whose transaction coordinator is still coming up) raises :class:`RejoinError`: the
processor's in-memory state is then ahead of what was committed. The member leaves the group
and builds a fresh :class:`App`, which restores what was committed and joins again. Nothing of
the lost transaction became visible, so this never republishes, and the back-off keeps a
persistent failure from spinning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from telemetry.app import App
from telemetry.config import Config
from telemetry.errors import RejoinError

logger = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A run this long counts as healthy: the next rejoin starts from the first back-off again.
HEALTHY_RUN_S = 60.0


class Member:
    """Runs an :class:`App` and replaces it on :class:`RejoinError`; the metrics endpoint and
    the signal handlers talk to the member, so they follow the current app."""

    def __init__(self, config: Config, *, build: Callable[[Config], App] = App) -> None:
        self.config = config
        self._build = build
        self.app = build(config)
        self.stopping = False
        self.rejoins = 0

    @property
    def registry(self) -> CollectorRegistry:
        return self.app.registry

    def alive(self) -> bool:
        return self.app.alive()

    def ready(self) -> bool:
        return self.app.ready()

    def snapshot(self) -> dict[str, float]:
        return self.app.snapshot()

    def request_drain(self) -> None:
        """Drain, commit and stop (safe in a signal handler)."""
        self.stopping = True
        self.app.request_drain()

    def request_stop(self) -> None:
        self.stopping = True
        self.app.request_stop()

    def run(self) -> None:
        """Process until asked to drain or stop, rejoining as often as exactly-once needs."""
        backoff = FIRST_BACKOFF_S
        while True:
            started = time.monotonic()
            try:
                self.app.run()
            except RejoinError as exc:
                if self.stopping:
                    return
                if time.monotonic() - started >= HEALTHY_RUN_S:
                    backoff = FIRST_BACKOFF_S
                logger.warning("leaving the group and joining again in %.1f s: %s", backoff, exc)
                if not self._pause(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                self.rejoins += 1
                self.app = self._build(self.config)
                if self.stopping:  # asked while the old app was being replaced
                    return
            else:
                return

    def _pause(self, seconds: float) -> bool:
        """Wait out the back-off; False when a stop came meanwhile. Polls a flag rather than
        waiting on an event, so a signal handler never contends for a lock."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stopping:
                return False
            time.sleep(0.05)
        return not self.stopping
