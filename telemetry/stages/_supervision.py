"""Supervision policies: what happens when a stage callback raises."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NoReturn

from telemetry.errors import StageError

if TYPE_CHECKING:
    from telemetry.metrics import StageMetrics

logger = logging.getLogger("telemetry.stages")


@dataclass(frozen=True, slots=True)
class Supervision:
    """Per-stage failure policy.

    ``restart``: call the stage's ``restart()`` hook and retry the failed batch once; a batch that
    fails again is a poison batch and is escalated (the engine never drops events). More than
    ``max_restarts`` restarts within ``within`` seconds escalate too. ``escalate``: the first
    failure raises :class:`~telemetry.errors.StageError` out of ``run``/``run_once``.
    """

    strategy: Literal["restart", "escalate"] = "restart"
    max_restarts: int = 3
    within: float = 60.0

    def __post_init__(self) -> None:
        if self.strategy not in ("restart", "escalate"):
            raise ValueError(f"unknown supervision strategy {self.strategy!r}")
        if self.max_restarts < 0 or self.within <= 0:
            raise ValueError("max_restarts must be >= 0 and within must be > 0")


class Supervisor:
    """Applies a stage's :class:`Supervision` policy; one log line and one metric per failure."""

    def __init__(self, name: str, policy: Supervision, clock: Callable[[], float]) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self._restarts: deque[float] = deque()
        self.metrics: StageMetrics | None = None

    def failed(self, where: str, exc: Exception, restart: Callable[[], None]) -> None:
        """Restart the stage, or raise StageError when the policy or the budget says so."""
        if isinstance(exc, StageError) or self.policy.strategy == "escalate":
            self.escalate(where, exc, "policy is escalate")
        now = self._clock()
        restarts = self._restarts
        while restarts and now - restarts[0] > self.policy.within:
            restarts.popleft()
        if len(restarts) >= self.policy.max_restarts:
            self.escalate(
                where,
                exc,
                f"{len(restarts)} restarts within {self.policy.within:g}s",
            )
        restarts.append(now)
        logger.error(
            "stage %s failed in %s: %s: %s; restarting (%d/%d within %gs)",
            self.name,
            where,
            type(exc).__name__,
            exc,
            len(restarts),
            self.policy.max_restarts,
            self.policy.within,
        )
        if self.metrics is not None:
            self.metrics.restarted.inc()
        try:
            restart()
        except Exception as restart_exc:  # noqa: BLE001 - escalated with its cause just below
            self.escalate("restart", restart_exc, "restart hook failed")

    def escalate(self, where: str, exc: BaseException | None, reason: str) -> NoReturn:
        logger.error(
            "stage %s failed in %s: %s: %s; escalating (%s)",
            self.name,
            where,
            type(exc).__name__ if exc is not None else "-",
            exc,
            reason,
        )
        if self.metrics is not None:
            self.metrics.escalated.inc()
        raise StageError(f"stage {self.name!r} failed in {where} ({reason}): {exc}") from exc
