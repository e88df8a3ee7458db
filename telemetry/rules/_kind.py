"""What a rule kind provides: the rule (configuration) and its per-key evaluation state."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

Alert = dict[str, Any]
"""An alert record with exactly the fields of ``schemas/alert.avsc``."""


class Rule(Protocol):
    """An alert rule read from configuration (a frozen dataclass)."""

    kind_name: ClassVar[str]
    """The ``kind`` of the rule in YAML (``processing.rules[i].kind``)."""
    timed: ClassVar[bool]
    """Its state fires on the partition's clock, not on readings (the silence rule)."""

    @property
    def name(self) -> str: ...
    @property
    def sensor(self) -> str: ...
    @property
    def devices(self) -> str: ...
    @property
    def severity(self) -> str: ...


class RuleState(Protocol):
    """One rule's state for one (device, sensor), fed every reading of it in arrival order."""

    raised: bool

    @property
    def rule(self) -> Any: ...

    def feed(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        """Apply a reading; an alert when the rule's state changes."""
        ...


class PluginRuleState(RuleState, Protocol):
    """The state of a kind beyond the built-in ones: saved to the changelog generically."""

    def save(self) -> tuple[list[int], list[float]]:
        """The state as integers and doubles (``KeyState.extras`` in ``changelog.avsc``)."""
        ...

    def restore(self, longs: list[int], doubles: list[float]) -> None:
        """Put back what :meth:`save` returned."""
        ...
