"""Alert rules: configuration (frozen dataclasses) and per-key evaluation state.

An alert is a state change (RAISED / CLEARED) of one (device, sensor, rule), never one message per
offending reading. Rules apply to one sensor name and optionally a device-id ``fnmatch`` pattern.
Readings are evaluated in arrival order per key (out-of-order readings within the lateness are
evaluated when they arrive; the rate rule skips readings not newer than the key's newest).
Silence timers run on the aggregation partition's idle-aware clock (:mod:`telemetry.aggregate`).
Kinds are registered by their YAML ``kind`` in :data:`RULE_KINDS`.
"""

from telemetry.rules._config import (
    RateOfChangeRule,
    RuleBase,
    Severity,
    SilentRule,
    ThresholdRule,
    matches,
)
from telemetry.rules._kind import Alert, PluginRuleState, Rule, RuleState
from telemetry.rules._registry import RULE_KINDS, new_rule_state
from telemetry.rules._state import RateState, SilentState, ThresholdState, make_alert
from telemetry.rules._zscore import ZScoreRule, ZScoreState

__all__ = [
    "RULE_KINDS",
    "Alert",
    "PluginRuleState",
    "RateOfChangeRule",
    "RateState",
    "Rule",
    "RuleBase",
    "RuleState",
    "Severity",
    "SilentRule",
    "SilentState",
    "ThresholdRule",
    "ThresholdState",
    "ZScoreRule",
    "ZScoreState",
    "make_alert",
    "matches",
    "new_rule_state",
]
