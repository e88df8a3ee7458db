"""Just enough PromQL reading to check which series and labels an expression uses.

Not a parser: Prometheus itself checks the syntax (``promtool check rules`` on every expression);
this only extracts metric names, label matchers and grouping labels from valid expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DASHBOARD_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$namespace": ".*",
    "$instance": ".*",
}
"""How the dashboard's variables are filled in to evaluate a panel query outside Grafana."""

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")
_NUMBER_LIKE = re.compile(r"^(?:inf|nan|e\d*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Matcher:
    metric: str | None
    label: str
    op: str
    value: str


@dataclass
class Usage:
    """What one expression reads."""

    metrics: set[str] = field(default_factory=set)
    matchers: list[Matcher] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)


def instantiate(expr: str) -> str:
    """The expression with the dashboard's variables filled in (longest names first)."""
    for name in sorted(DASHBOARD_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, DASHBOARD_VARIABLES[name])
    return expr


def usage(expr: str) -> Usage:
    """The series names, label matchers and grouping labels ``expr`` uses."""
    found = Usage()
    for selector in _MATCHERS.finditer(expr):
        metric = selector.group(1) or None
        for matcher in _MATCHER.finditer(selector.group(2)):
            label, op, value = matcher.groups()
            if label == "__name__" and op == "=":
                found.metrics.add(value)
            found.matchers.append(Matcher(metric, label, op, value))
    for group in _GROUPING.finditer(expr):
        found.grouping.update(part.strip() for part in group.group(1).split(",") if part.strip())
    # What is left after removing strings, selectors' matchers, groupings and ranges: function
    # names (followed by a parenthesis), keywords, numbers and the metric names.
    bare = _STRING.sub('""', expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = _GROUPING.sub(" ", bare)
    bare = _RANGE.sub(" ", bare)
    for ident in _IDENT.finditer(bare):
        name, call = ident.groups()
        if call or name in _KEYWORDS or _NUMBER_LIKE.match(name):
            continue
        found.metrics.add(name)
    return found
