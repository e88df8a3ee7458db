"""Alert rules: configuration (frozen dataclasses) and per-key evaluation state.

An alert is a state change (RAISED / CLEARED) of one (device, sensor, rule), never one message per
offending reading. Rules apply to one sensor name and optionally a device-id ``fnmatch`` pattern.
Readings are evaluated in arrival order per key (out-of-order readings within the lateness are
evaluated when they arrive; the rate rule skips readings not newer than the key's newest).
Silence timers run on the aggregation partition's idle-aware clock (:mod:`telemetry.aggregate`).
"""

from telemetry.rules._config import (
    RateOfChangeRule,
    Rule,
    Severity,
    SilentRule,
    ThresholdRule,
    matches,
)
from telemetry.rules._state import Alert, RateState, SilentState, ThresholdState, make_alert

__all__ = [
    "Alert",
    "RateOfChangeRule",
    "RateState",
    "Rule",
    "Severity",
    "SilentRule",
    "SilentState",
    "ThresholdRule",
    "ThresholdState",
    "make_alert",
    "matches",
]
