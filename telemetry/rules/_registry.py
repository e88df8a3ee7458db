"""The rule kinds the configuration knows, by their YAML ``kind``, with their state factories.

Adding a kind: a module with its rule (a frozen dataclass subclassing
:class:`~telemetry.rules._config.RuleBase`) and its state (a
:class:`~telemetry.rules._kind.PluginRuleState`), and one line in :data:`_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from telemetry.rules._config import RateOfChangeRule, SilentRule, ThresholdRule
from telemetry.rules._kind import Rule, RuleState
from telemetry.rules._state import RateState, SilentState, ThresholdState
from telemetry.rules._zscore import ZScoreRule, ZScoreState

_NEVER = -(2**62)


def _silent(rule: SilentRule) -> SilentState:
    return SilentState(rule, _NEVER, 0.0)  # timed from the key's first reading


_KINDS: tuple[tuple[type[Any], Callable[[Any], Any]], ...] = (
    (ThresholdRule, ThresholdState),
    (RateOfChangeRule, RateState),
    (SilentRule, _silent),
    (ZScoreRule, ZScoreState),
)

RULE_KINDS: Mapping[str, type[Any]] = {rule.kind_name: rule for rule, _ in _KINDS}
"""YAML ``kind`` -> rule class."""
_STATES = dict(_KINDS)


def new_rule_state(rule: Rule) -> RuleState:
    """A fresh state of ``rule`` for one (device, sensor)."""
    state: RuleState = _STATES[type(rule)](rule)
    return state
