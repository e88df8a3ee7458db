"""A key's changelog value written straight from its state, byte for byte what fastavro
writes for ``schemas/changelog.avsc`` (format 3), without building the record's dicts.

Exactly-once mode writes every changed key at every commit, so at a short commit interval
nearly every reading costs one of these: through fastavro it was half of the processor's
time. Keys with a quantile sketch take the general path (:func:`telemetry.aggregate._snapshot.
encode`); ``tests/unit/aggregate/test_keywriter.py`` checks both give the same bytes.
"""

from __future__ import annotations

from struct import Struct
from typing import Any, cast

from telemetry.aggregate._partition import PartitionState, _Key
from telemetry.rules import PluginRuleState, RateState, ThresholdState
from telemetry.windows import Accumulator

FORMAT_V3 = 3
_KEY_STATE_BRANCH = 0  # KeyState is the first branch of StateRecord.body
_DOUBLE = Struct("<d")
_FIVE_DOUBLES = Struct("<5d")


def _long(out: bytearray, n: int) -> None:
    """Avro int/long: zigzag, then base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _string(out: bytearray, text: str) -> None:
    raw = text.encode()
    _long(out, len(raw))
    out += raw


def _window(out: bytearray, spec: str, start: int, acc: Accumulator) -> None:
    _string(out, spec)
    _long(out, start)
    _long(out, acc.count)
    out += _FIVE_DOUBLES.pack(acc.min, acc.max, acc.sum, acc.mean, acc.m2)
    _long(out, acc.fts)
    out += _DOUBLE.pack(acc.first)
    _long(out, acc.farr)
    _long(out, acc.lts)
    out += _DOUBLE.pack(acc.last)
    _long(out, acc.larr)
    _long(out, acc.offset)
    out += _DOUBLE.pack(acc.scale)
    out.append(0)  # sketch: the null branch


def _array_start(out: bytearray, n: int) -> None:
    """One block of ``n`` items (the caller writes them, then :func:`_array_end`)."""
    if n:
        _long(out, n)


def _array_end(out: bytearray) -> None:
    out.append(0)  # after a block the empty block that ends it; alone, the empty array


def extras(state: PartitionState, key: _Key) -> list[tuple[str, list[int], list[float]]]:
    """The plug-in state of ``key``: ``w:<spec id>`` per window runtime that keeps some, then
    ``r:<kind>:<rule name>`` per plug-in rule state."""
    out: list[tuple[str, list[int], list[float]]] = []
    for rt in state.plugins:
        saved = rt.save(key)
        if saved is not None:
            out.append((f"w:{state.spec_ids[rt]}", *saved))
    out.extend(
        (rule_extra(rs.rule), *cast("PluginRuleState", rs).save())
        for rs in key.rules
        if not isinstance(rs, ThresholdState | RateState)
    )
    return out


def rule_extra(rule: Any) -> str:
    # The kind too: a rule renamed to another kind must not read the old kind's numbers.
    return f"r:{rule.kind_name}:{rule.name}"


def sketched(state: PartitionState) -> bool:
    """Some window spec of ``state`` keeps a quantile sketch (not written here)."""
    return state.percentiles


def encode_key(state: PartitionState, key: _Key, covers: int) -> bytes:
    """The format byte and the StateRecord of ``key`` (no quantile sketch) covering ``covers``."""
    out = bytearray((FORMAT_V3,))
    _long(out, covers)
    out.append(_KEY_STATE_BRANCH)
    _string(out, key.device)
    _string(out, key.sensor)
    _long(out, key.last_ts)
    _windows(out, state, key)
    thresholds = [rs for rs in key.rules if isinstance(rs, ThresholdState)]
    rates = [rs for rs in key.rules if isinstance(rs, RateState)]
    _array_start(out, len(thresholds))
    for ts in thresholds:
        _string(out, ts.rule.name)
        out.append(1 if ts.raised else 0)
        _long(out, ts.streak)
    _array_end(out)
    _array_start(out, len(rates))
    for rs in rates:
        _string(out, rs.rule.name)
        out.append(1 if rs.raised else 0)
        _long(out, rs.streak)
        if rs.newest is None:
            out.append(0)
        else:
            out.append(2)  # the long branch (index 1, zigzag)
            _long(out, rs.newest)
        history = rs.history
        _array_start(out, len(history))
        for t, _ in history:
            _long(out, t)
        _array_end(out)
        _array_start(out, len(history))
        for _, v in history:
            out += _DOUBLE.pack(v)
        _array_end(out)
    _array_end(out)
    silent = key.silent
    _array_start(out, len(silent))
    for st in silent:
        _string(out, st.rule.name)
        out.append(1 if st.raised else 0)
        _long(out, st.last_ts)
        out += _DOUBLE.pack(st.last_value)
    _array_end(out)
    if state.plugins or len(thresholds) + len(rates) < len(key.rules):
        _extras(out, extras(state, key))
    else:
        out.append(0)  # no extras: the empty array
    return bytes(out)


def _windows(out: bytearray, state: PartitionState, key: _Key) -> None:
    spec_ids = state.spec_ids
    plugins = state.plugins
    plugin_windows = [list(rt.open_windows(key)) for rt in plugins] if plugins else []
    n = (
        sum(len(key.wins[fx.index]) for fx in state.fixed)
        + sum(len(key.sessions[ss.index]) for ss in state.sessions)
        + sum(len(w) for w in plugin_windows)
    )
    _array_start(out, n)
    for fx in state.fixed:
        spec = spec_ids[fx]
        for start, acc in key.wins[fx.index].items():
            _window(out, spec, start, acc)
    for ss in state.sessions:
        spec = spec_ids[ss]
        for acc in key.sessions[ss.index]:
            _window(out, spec, acc.fts, acc)
    for rt, windows in zip(plugins, plugin_windows, strict=True):
        spec = spec_ids[rt]
        for start, acc in windows:
            _window(out, spec, start, acc)
    _array_end(out)


def _extras(out: bytearray, items: list[tuple[str, list[int], list[float]]]) -> None:
    _array_start(out, len(items))
    for name, longs, doubles in items:
        _string(out, name)
        _array_start(out, len(longs))
        for n in longs:
            _long(out, n)
        _array_end(out)
        _array_start(out, len(doubles))
        for d in doubles:
            out += _DOUBLE.pack(d)
        _array_end(out)
    _array_end(out)
