"""Per (device, sensor, rule) evaluation state; ``feed`` returns an alert on a state change."""

from __future__ import annotations

from collections import deque

from telemetry.rules._config import RateOfChangeRule, SilentRule, ThresholdRule
from telemetry.rules._kind import Alert, Rule


def make_alert(  # noqa: PLR0917 - positional on purpose: one call per state change
    device_id: str,
    sensor: str,
    rule: Rule,
    raised: bool,
    value: float,
    ts: int,
    message: str,
) -> Alert:
    return {
        "device_id": device_id,
        "sensor": sensor,
        "rule": rule.name,
        "state": "RAISED" if raised else "CLEARED",
        "severity": rule.severity,
        "value": value,
        "ts": ts,
        "message": message,
    }


class ThresholdState:
    __slots__ = ("above", "clear_at", "debounce", "raise_at", "raised", "rule", "streak")

    def __init__(self, rule: ThresholdRule) -> None:
        self.rule = rule
        self.above = rule.direction == "above"
        self.raise_at = rule.raise_at
        self.clear_at = rule.clear_at
        self.debounce = rule.debounce
        self.raised = False
        self.streak = 0

    def feed(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        if self.raised:
            ok = value < self.clear_at if self.above else value > self.clear_at
        else:
            ok = value > self.raise_at if self.above else value < self.raise_at
            if not ok and not self.streak:
                return None  # the common case: quiet and nothing pending
        if not ok:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < self.debounce:
            return None
        self.streak = 0
        self.raised = not self.raised
        rule = self.rule
        op = (">" if self.above else "<") if self.raised else ("<" if self.above else ">")
        bound = self.raise_at if self.raised else self.clear_at
        state = "raised" if self.raised else "cleared"
        message = f"{rule.name} {state}: {sensor} {value} {op} {bound}"
        return make_alert(device_id, sensor, rule, self.raised, value, ts, message)


class RateState:
    __slots__ = ("history", "newest", "raised", "rule", "streak")

    def __init__(self, rule: RateOfChangeRule) -> None:
        self.rule = rule
        self.history: deque[tuple[int, float]] = deque()
        self.newest: int | None = None
        self.raised = False
        self.streak = 0

    def feed(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        if self.newest is not None and ts <= self.newest:
            return None  # out of order or same instant: no meaningful delta
        self.newest = ts
        rule = self.rule
        history = self.history
        oldest = ts - rule.span_ms
        while history and history[0][0] < oldest:
            history.popleft()
        history.append((ts, value))
        if len(history) < 2:
            return None
        ref_ts, ref_value = history[0]
        rate = abs(value - ref_value) * 1000.0 / (ts - ref_ts)
        breach = rate > rule.limit_per_s
        if breach == self.raised:  # breaching while raised / clear while clear
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < rule.debounce:
            return None
        self.streak = 0
        self.raised = breach
        state = "raised" if breach else "cleared"
        op = ">" if breach else "<="
        message = f"{rule.name} {state}: {sensor} changes {rate:.6g}/s {op} {rule.limit_per_s}/s"
        return make_alert(device_id, sensor, rule, breach, value, ts, message)


class SilentState:
    """Last reading of the key; the aggregation partition keeps the timers."""

    __slots__ = ("after_ms", "last_ts", "last_value", "raised", "rule")

    def __init__(self, rule: SilentRule, ts: int, value: float) -> None:
        self.rule = rule
        self.after_ms = rule.after_ms
        self.last_ts = ts
        self.last_value = value
        self.raised = False

    def deadline(self) -> int:
        return self.last_ts + self.after_ms

    def see(self, device_id: str, sensor: str, ts: int, value: float) -> Alert | None:
        """A reading arrived: remember it (the newest by ts) and clear a raised alert."""
        if ts >= self.last_ts:
            self.last_ts = ts
            self.last_value = value
        if not self.raised:
            return None
        self.raised = False
        rule = self.rule
        message = f"{rule.name} cleared: {sensor} reported again"
        return make_alert(device_id, sensor, rule, False, value, ts, message)

    def fire(self, device_id: str, sensor: str) -> Alert:
        self.raised = True
        rule = self.rule
        message = f"{rule.name} raised: no {sensor} reading for {rule.after_ms} ms"
        return make_alert(device_id, sensor, rule, True, self.last_value, self.deadline(), message)
