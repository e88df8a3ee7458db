"""A partition's state as changelog records, and back (``schemas/changelog.avsc``).

A record's Kafka value is one format byte followed by a ``StateRecord`` in Avro binary; the
byte names the writer schema, so a later release can still read what this one wrote: format 3
is ``changelog.avsc``, format 2 the same without ``KeyState.extras`` (the state of plug-in
window and rule kinds), format 1 (the first release) format 2 without ``WindowState.scale``.
Keys are ``k<device>\\0<sensor>`` for a (device, sensor) and ``m`` for the partition's
checkpoint marker.

Windows are saved with their spec id (``T<size>``, ``H<size>/<advance>``, ``S<gap>``, a
plug-in's own) and rule states with their rule's name, so a restore under a changed
configuration keeps what still applies and drops the rest.
"""

from __future__ import annotations

import copy
import io
import time
from typing import Any, Final, cast

from ddsketch import DDSketch
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from telemetry.aggregate._keywriter import encode_key, extras, rule_extra, sketched
from telemetry.aggregate._partition import PartitionState, _Key
from telemetry.codec import SCHEMA_DIR, load_schema_file
from telemetry.errors import StateError
from telemetry.kafka import ChangelogRecord, Headers, Latest
from telemetry.rules import PluginRuleState, RateState, ThresholdState
from telemetry.windows import Accumulator

FORMAT_V1: Final = 1
FORMAT_V2: Final = 2
FORMAT_V3: Final = 3
CHANGELOG_FILE = "changelog.avsc"
MARKER_KEY: Final = b"m"
COVERS_HEADER: Final = "covers"


def _v2_writer_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Format 2: the current schema without ``KeyState.extras`` (read back as empty)."""
    v2 = copy.deepcopy(schema)
    key_state = v2["fields"][1]["type"][0]
    key_state["fields"] = [f for f in key_state["fields"] if f["name"] != "extras"]
    return v2


def _v1_writer_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Format 1: format 2 without ``WindowState.scale`` (read back as its default)."""
    v1 = _v2_writer_schema(schema)
    key_state = v1["fields"][1]["type"][0]
    window = next(f for f in key_state["fields"] if f["name"] == "windows")["type"]["items"]
    window["fields"] = [f for f in window["fields"] if f["name"] != "scale"]
    return v1


_SCHEMA = parse_schema(load_schema_file(SCHEMA_DIR / CHANGELOG_FILE))
_WRITERS = {
    FORMAT_V1: parse_schema(_v1_writer_schema(load_schema_file(SCHEMA_DIR / CHANGELOG_FILE))),
    FORMAT_V2: parse_schema(_v2_writer_schema(load_schema_file(SCHEMA_DIR / CHANGELOG_FILE))),
    FORMAT_V3: _SCHEMA,
}
_KEY_STATE = "iot.telemetry.state.KeyState"
_CHECKPOINT = "iot.telemetry.state.Checkpoint"


def state_key(device: str, sensor: str) -> bytes:
    return b"k" + device.encode() + b"\0" + sensor.encode()


# -- encoding --------------------------------------------------------------------------------


def encode(covers: int, body: dict[str, Any], marker: bool = False) -> bytes:
    buffer = io.BytesIO()
    buffer.write(bytes((FORMAT_V3,)))
    record = {"covers": covers, "body": (_CHECKPOINT if marker else _KEY_STATE, body)}
    schemaless_writer(buffer, _SCHEMA, record)
    return buffer.getvalue()


def decode(value: bytes) -> tuple[int, str, dict[str, Any]]:
    """``(covers, kind, body)``; kind is ``"key"`` or ``"marker"``."""
    writer = _WRITERS.get(value[0]) if value else None
    if writer is None:
        found = value[0] if value else None
        raise StateError(f"changelog record in an unknown format (format byte {found})")
    # Record names only where a union has two records (the body), not for nullable sketches.
    record: Any = schemaless_reader(
        io.BytesIO(value[1:]),
        writer,
        _SCHEMA,
        return_record_name=True,
        return_record_name_override=True,
    )
    name, body = record["body"]
    return int(record["covers"]), "marker" if name == _CHECKPOINT else "key", body


# -- a checkpoint and a restore, whole ---------------------------------------------------------


def delta(state: PartitionState, ttl_ms: int | None) -> tuple[list[ChangelogRecord], int]:
    """The records of one checkpoint of ``state`` (it must have a position), all encoded now:
    the keys changed since the last one, tombstones for the keys the TTL evicts now, and last
    the marker. Returns the records and the number of evicted keys. (The checkpointer spreads
    the same work over passes: :func:`begin`, then :func:`key_change` per key.)"""
    if ttl_ms is not None:
        state.expire(ttl_ms)
    changed, tail, evicted = begin(state)
    covers = state.position
    assert covers is not None  # noqa: S101 - begin checked
    records = []
    for key in changed:
        key.snap = False
        records.append(key_change(state, key, covers))
    return records + tail, evicted


def begin(state: PartitionState) -> tuple[list[_Key], list[ChangelogRecord], int]:
    """Start a checkpoint of ``state`` (it must have a position): the changed keys, marked to
    be saved as they are now (:meth:`PartitionState.snapshot`), and the checkpoint's last
    records, already encoded: tombstones for the keys evicted since the last one (see
    :meth:`PartitionState.expire`), then the marker."""
    covers = state.position
    assert covers is not None  # noqa: S101 - the caller checks
    changed, evicted = state.snapshot()
    tail: list[ChangelogRecord] = []
    if evicted:
        header: Headers = [(COVERS_HEADER, str(covers).encode())]
        tail.extend((state_key(k.device, k.sensor), None, header) for k in evicted)
    tail.append((MARKER_KEY, encode(covers, marker_record(state), marker=True), None))
    return changed, tail, len(evicted)


def key_change(state: PartitionState, key: _Key, covers: int) -> ChangelogRecord:
    """The changelog record of ``key`` as it is now, covering input below ``covers``."""
    if sketched(state):
        value = encode(covers, key_record(state, key))
    else:
        value = encode_key(state, key, covers)  # the same bytes, several times faster
    return state_key(key.device, key.sensor), value, None


def apply(state: PartitionState, latest: Latest, ttl_ms: int | None) -> tuple[int, int | None]:
    """Rebuild ``state`` (freshly opened) from the latest changelog record of every key.

    Returns the number of keys restored and the marker's offset (None without a marker: the
    input then resumes at the committed offset, and keys still skip what they cover).
    """
    records = dict(latest)
    marker = records.pop(MARKER_KEY, None)
    covers_marker: int | None = None
    if marker is not None and marker[0] is not None:
        # First: plug-in windows restore against the restored watermark.
        covers_marker, _, body = decode(marker[0])
        restore_marker(state, covers_marker, body)
    keys = []
    replay_until = 0
    for value, _ in records.values():
        if value is None:
            continue  # a tombstone: the key was evicted
        covers, _, body = decode(value)
        keys.append(restore_key(state, covers, body))
        replay_until = max(replay_until, covers)
    state.replay_until = replay_until
    if ttl_ms is not None:
        state.file(keys, ttl_ms)
    return len(keys), covers_marker


# -- state -> records ------------------------------------------------------------------------


def key_record(state: PartitionState, key: _Key) -> dict[str, Any]:
    windows: list[dict[str, Any]] = []
    for fx in state.fixed:
        for start, acc in key.wins[fx.index].items():
            windows.append(_window(state.spec_ids[fx], start, acc))
    for ss in state.sessions:
        windows.extend(_window(state.spec_ids[ss], acc.fts, acc) for acc in key.sessions[ss.index])
    for rt in state.plugins:
        spec = state.spec_ids[rt]
        windows.extend(_window(spec, start, acc) for start, acc in rt.open_windows(key))
    thresholds: list[dict[str, Any]] = []
    rates: list[dict[str, Any]] = []
    for rs in key.rules:
        if isinstance(rs, ThresholdState):
            thresholds.append({"rule": rs.rule.name, "raised": rs.raised, "streak": rs.streak})
        elif isinstance(rs, RateState):
            rates.append(
                {
                    "rule": rs.rule.name,
                    "raised": rs.raised,
                    "streak": rs.streak,
                    "newest": rs.newest,
                    "history_ts": [t for t, _ in rs.history],
                    "history_values": [v for _, v in rs.history],
                }
            )
    silences = [
        {
            "rule": st.rule.name,
            "raised": st.raised,
            "last_ts": st.last_ts,
            "last_value": st.last_value,
        }
        for st in key.silent
    ]
    return {
        "device_id": key.device,
        "sensor": key.sensor,
        "last_ts": key.last_ts,
        "windows": windows,
        "thresholds": thresholds,
        "rates": rates,
        "silences": silences,
        "extras": [
            {"name": name, "longs": longs, "doubles": doubles}
            for name, longs, doubles in extras(state, key)
        ],
    }


def marker_record(state: PartitionState) -> dict[str, Any]:
    return {
        "max_ts": state.max_ts,
        "clock": state.clock,
        "watermark": state.watermark,
        "idle": state.clock > state.max_ts,
        "arrival": state.arrival,
        "written_ms": int(time.time() * 1000),
    }


def _window(spec: str, start: int, acc: Accumulator) -> dict[str, Any]:
    return {
        "spec": spec,
        "start": start,
        "count": acc.count,
        "min": acc.min,
        "max": acc.max,
        "sum": acc.sum,
        "mean": acc.mean,
        "m2": acc.m2,
        "fts": acc.fts,
        "first": acc.first,
        "farr": acc.farr,
        "lts": acc.lts,
        "last": acc.last,
        "larr": acc.larr,
        "offset": acc.offset,
        "scale": acc.scale,
        "sketch": None if acc.sketch is None else _sketch(acc.sketch),
    }


def _sketch(sketch: DDSketch) -> dict[str, Any]:
    positive = sketch._store
    negative = sketch._negative_store
    pk, pc = _bins(positive)
    nk, nc = _bins(negative)
    return {
        "zero_count": sketch._zero_count,
        "count": sketch._count,
        "min": sketch._min,
        "max": sketch._max,
        "sum": sketch._sum,
        "positive_keys": pk,
        "positive_counts": pc,
        "negative_keys": nk,
        "negative_counts": nc,
    }


def _bins(store: Any) -> tuple[list[int], list[float]]:
    keys: list[int] = []
    counts: list[float] = []
    offset = store.offset
    for i, c in enumerate(store.bins):
        if c:
            keys.append(offset + i)
            counts.append(c)
    return keys, counts


# -- records -> state ------------------------------------------------------------------------


def restore_key(state: PartitionState, covers: int, body: dict[str, Any]) -> _Key:
    """Rebuild one key from its record; windows of specs no longer configured are dropped."""
    key = state.new_key(body["device_id"], body["sensor"])
    key.last_ts = body["last_ts"]
    key.covers = covers
    specs = state.specs_by_id
    plugin_windows: dict[int, list[tuple[int, Accumulator]]] = {}
    for w in body["windows"]:
        spec = specs.get(w["spec"])
        if spec is None:
            continue
        acc = _accumulator(w, state.accuracy if spec[2] else None)
        if spec[0] == "fixed":
            state.add_window(key, spec[1], w["start"], acc)
        elif spec[0] == "session":
            state.add_session(key, spec[1], acc)
        else:
            plugin_windows.setdefault(spec[1], []).append((w["start"], acc))
    saved_x = {x["name"]: (x["longs"], x["doubles"]) for x in body.get("extras", ())}
    for rt in state.plugins:
        extra = saved_x.get(f"w:{state.spec_ids[rt]}")
        windows = plugin_windows.get(rt.slot, [])
        if windows or extra is not None:
            rt.restore(key, windows, extra, state.watermark)
    _restore_rules(key, body, saved_x)
    saved_s = {s["rule"]: s for s in body["silences"]}
    for st in key.silent:
        s = saved_s.get(st.rule.name)
        if s is not None:
            st.raised, st.last_ts, st.last_value = s["raised"], s["last_ts"], s["last_value"]
        else:  # a rule added since: its timer starts from the key's last reading
            st.last_ts = key.last_ts
    state.arm(key)
    return key


def _restore_rules(
    key: _Key, body: dict[str, Any], saved_x: dict[str, tuple[list[int], list[float]]]
) -> None:
    saved_t = {t["rule"]: t for t in body["thresholds"]}
    saved_r = {r["rule"]: r for r in body["rates"]}
    for rs in key.rules:
        if isinstance(rs, ThresholdState):
            t = saved_t.get(rs.rule.name)
            if t is not None:
                rs.raised, rs.streak = t["raised"], t["streak"]
        elif isinstance(rs, RateState):
            r = saved_r.get(rs.rule.name)
            if r is not None:
                rs.raised, rs.streak, rs.newest = r["raised"], r["streak"], r["newest"]
                rs.history.extend(zip(r["history_ts"], r["history_values"], strict=True))
        else:
            x = saved_x.get(rule_extra(rs.rule))
            if x is not None:
                cast("PluginRuleState", rs).restore(*x)


def restore_marker(state: PartitionState, covers: int, body: dict[str, Any]) -> None:
    state.max_ts = body["max_ts"]
    state.clock = body["clock"]
    state.arrival = body["arrival"]
    state.position = covers


def _accumulator(w: dict[str, Any], accuracy: float | None) -> Accumulator:
    acc = Accumulator(w["fts"], w["first"], w["offset"], w["farr"], None)
    acc.count = w["count"]
    acc.min = w["min"]
    acc.max = w["max"]
    acc.sum = w["sum"]
    acc.mean = w["mean"]
    acc.m2 = w["m2"]
    acc.scale = w["scale"]
    acc.lts = w["lts"]
    acc.last = w["last"]
    acc.larr = w["larr"]
    saved = w["sketch"]
    if accuracy is not None:
        acc.sketch = DDSketch(accuracy) if saved is None else _restore_sketch(saved, accuracy)
    return acc


def _restore_sketch(saved: dict[str, Any], accuracy: float) -> DDSketch:
    sketch = DDSketch(accuracy)
    for k, c in zip(saved["positive_keys"], saved["positive_counts"], strict=True):
        sketch._store.add(k, c)
    for k, c in zip(saved["negative_keys"], saved["negative_counts"], strict=True):
        sketch._negative_store.add(k, c)
    sketch._zero_count = saved["zero_count"]
    sketch._count = saved["count"]
    sketch._min = saved["min"]
    sketch._max = saved["max"]
    sketch._sum = saved["sum"]
    return sketch
