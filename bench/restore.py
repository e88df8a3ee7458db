"""Restore time: 100,000 keys with open windows, read back from a changelog topic on the broker.

The state is real: an :class:`~telemetry.aggregate.Aggregator` with W1's processing (10 s
tumbling windows, the two threshold rules, ``allowed_lateness_ms: 1000``) is fed
``READINGS_PER_KEY`` readings of each of ``keys`` distinct (device, sensor) series on partition
0, every reading inside one 10 s window, so every key holds one open window when the partition
is cut (``telemetry.aggregate._snapshot.delta``: one record per key, then the marker). The
records go to a fresh compacted changelog topic through the processor's own
:class:`~telemetry.kafka._changelog.ChangelogWriter`.

Each timed run does what a partition assign does (``Aggregate.assigned``): open a fresh
partition state and ``Checkpointer.restore`` it, which reads the changelog partition to its end
(``read_changelog``) and applies the latest record of each key; the processor's young-GC
threshold is in force, as in ``telemetry run``. The restored state is then checked against
the original: the key count, the open windows, the clock and input position, and every key
(its window accumulators, field by field, and its rule states).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from bench._common import create_topics, delete_topics, topic_exists
from bench.w1 import ANOMALY, ANOMALY_P, LATENESS_MS, SENSORS, T0, WINDOW_MS, config_yaml
from telemetry.aggregate import Aggregator, Checkpointer
from telemetry.aggregate._partition import PartitionState, _Key
from telemetry.aggregate._snapshot import delta
from telemetry.app import RESTORE_TIMEOUT_S, tuned_gc
from telemetry.config import Config, build_config
from telemetry.kafka import ChangelogWriter, Latest, PartitionOffsets, read_changelog
from telemetry.windows import Accumulator

KEYS = 100_000
RUNS = 3
TARGET_S = 5.0
READINGS_PER_KEY = 3
SEED = 20_261_202
BATCH = 5_000
PARTITION = 0


def _config(bootstrap: str, readings: str, changelog: str) -> Config:
    """W1's processor configuration, with the changelog topic named."""
    raw = yaml.safe_load(
        config_yaml(bootstrap, readings, "unused", "unused", "unused", "bench-restore", 0)
    )
    raw["topics"]["changelog"] = changelog
    return build_config(raw)


def _aggregator(config: Config) -> Aggregator:
    p = config.processing
    return Aggregator(
        windows=p.windows,
        rules=p.rules,
        allowed_lateness_ms=p.allowed_lateness_ms,
        idle_timeout=p.idle_timeout_ms / 1000,
    )


def build_state(config: Config, keys: int) -> PartitionState:
    """``keys`` series (devices x W1's two sensors), ``READINGS_PER_KEY`` readings each, all
    in the window [T0, T0 + 10 s): every key ends with one open window."""
    rng = random.Random(SEED)
    aggregator = _aggregator(config)
    aggregator.open_partition(PARTITION)
    devices = [f"restore-{d:06d}" for d in range((keys + len(SENSORS) - 1) // len(SENSORS))]
    series = [(d, s) for d in devices for s in SENSORS][:keys]
    total = keys * READINGS_PER_KEY
    events: list[Any] = []
    for i in range(total):
        device, sensor = series[i % keys]
        value = ANOMALY if rng.random() < ANOMALY_P else rng.gauss(50.0, 10.0)
        reading = {
            "device_id": device,
            "sensor": sensor,
            "ts": T0 + i * WINDOW_MS // total,
            "value": value,
            "seq": i // keys,
            "unit": None,
            "battery_level": None,
            "firmware": None,
        }
        events.append((PARTITION, i, reading))
        if len(events) == BATCH:
            aggregator.process(events)
            events = []
    if events:
        aggregator.process(events)
    state = aggregator.state(PARTITION)
    assert state is not None  # noqa: S101 - opened above
    if len(state.keys) != keys or state.open_windows() != keys:
        raise RuntimeError(
            f"restore: built {len(state.keys):,} keys with {state.open_windows():,} open "
            f"windows, not {keys:,} of each"
        )
    if state.watermark >= T0 + WINDOW_MS - LATENESS_MS:
        raise RuntimeError("restore: the watermark would not leave the windows open")
    return state


def write_changelog(config: Config, state: PartitionState) -> dict[str, Any]:
    """Cut ``state`` and write its records to changelog partition 0; wait for delivery."""
    records, evicted = delta(state, config.processing.state_ttl_ms)
    if evicted or len(records) != len(state.keys) + 1:
        raise RuntimeError(f"restore: cut {len(records):,} records ({evicted} evicted)")
    writer = ChangelogWriter(
        config.kafka.client_config(),
        config.changelog_topic,
        readings_topic=config.topics.readings,
        replication_factor=config.topics.replication_factor,
    )
    delivered: list[bool] = []
    started = time.monotonic()
    writer.start()
    writer.write(PARTITION, records, lambda: delivered.append(True))
    if not writer.flush(120) or not delivered:
        raise RuntimeError("restore: the changelog records were not delivered within 120 s")
    seconds = time.monotonic() - started
    writer.stop(10)
    return {
        "records": writer.records_total,
        "bytes": writer.bytes_total,
        "write_s": seconds,
    }


def _acc(acc: Accumulator) -> tuple[Any, ...]:
    return tuple(getattr(acc, name) for name in Accumulator.__slots__ if name != "sketch")


def _key(key: _Key) -> tuple[Any, ...]:
    windows = [{start: _acc(acc) for start, acc in wins.items()} for wins in key.wins]
    sessions = [[_acc(acc) for acc in open_] for open_ in key.sessions]
    rules = [
        (type(rs).__name__, rs.rule.name, rs.raised, getattr(rs, "streak", None))
        for rs in key.rules
    ]
    return key.last_ts, windows, sessions, rules


def compare(original: PartitionState, restored: PartitionState, keys: int) -> list[str]:
    """What differs between ``restored`` and ``original`` (empty: nothing)."""
    problems: list[str] = []
    if len(restored.keys) != keys:
        problems.append(f"{len(restored.keys):,} keys restored, not {keys:,}")
    if restored.open_windows() != original.open_windows():
        problems.append(
            f"{restored.open_windows():,} open windows, not {original.open_windows():,}"
        )
    clock = ("max_ts", "clock", "watermark", "position", "arrival")
    problems.extend(
        f"{name} {getattr(restored, name)} != {getattr(original, name)}"
        for name in clock
        if getattr(restored, name) != getattr(original, name)
    )
    # Every key, field by field (under a second for 100,000 keys, outside the timed part).
    for k, key in original.keys.items():
        got = restored.keys.get(k)
        if got is None:
            problems.append(f"key {k} missing")
        elif _key(got) != _key(key):
            problems.append(f"key {k}: {_key(got)} != {_key(key)}")
    return problems


def restore_once(config: Config, original: PartitionState, keys: int, index: int) -> dict[str, Any]:
    """One timed assign: a fresh partition state restored by a ``Checkpointer``, checked."""
    client = config.kafka.client_config()
    read_at: list[float] = []
    latest: list[Mapping[int, Latest]] = []

    def read(partitions: Sequence[int]) -> Mapping[int, Latest]:
        got = read_changelog(client, config.changelog_topic, partitions, timeout=RESTORE_TIMEOUT_S)
        read_at.append(time.monotonic())
        latest.append(got)
        return got

    checkpointer = Checkpointer(
        writer=ChangelogWriter(
            client,
            config.changelog_topic,
            readings_topic=config.topics.readings,
            replication_factor=config.topics.replication_factor,
        ),
        read=read,
        interval=config.processing.commit_interval_s,
        ttl_ms=config.processing.state_ttl_ms,
        registry=CollectorRegistry(),
    )
    aggregator = _aggregator(config)
    tracker = PartitionOffsets(config.topics.readings, PARTITION)
    with tuned_gc():
        started = time.monotonic()
        aggregator.open_partition(tracker)  # what Aggregate.assigned does, timed
        state = aggregator.state(tracker)
        assert state is not None  # noqa: S101 - opened just before
        checkpointer.restore([(tracker, state)])
        seconds = time.monotonic() - started
    records = latest[0].get(PARTITION, {})
    raised = sum(any(rs.raised for rs in key.rules) for key in state.keys.values())
    problems = compare(original, state, keys)
    if tracker.start != original.position:
        problems.append(f"input resumes at {tracker.start}, not {original.position}")
    result: dict[str, Any] = {
        "seconds": seconds,
        "read_s": read_at[0] - started,
        "apply_s": started + seconds - read_at[0],
        "records": len(records),
        "bytes": sum(len(k) + len(v or b"") for k, (v, _) in records.items()),
        "keys_restored": len(state.keys),
        "open_windows_restored": state.open_windows(),
        "raised_rule_states": raised,
        "resumes_at": tracker.start,
        "correct": not problems,
        "problems": len(problems),
        "examples": problems[:5],
    }
    status = "ok" if not problems else f"FAILED {problems[:3]}"
    print(
        f"  restore run {index + 1}: {seconds:.2f} s (read {result['read_s']:.2f} s, apply"
        f" {result['apply_s']:.2f} s)  {result['records']:,} records"
        f" {result['bytes'] / 1e6:.1f} MB  {len(state.keys):,} keys  {status}",
        flush=True,
    )
    return result


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(bootstrap: str, keys: int = KEYS, runs: int = RUNS) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    readings = f"bench.restore.{tag}.readings"
    config = _config(bootstrap, readings, f"bench.restore.{tag}-state-changelog")
    started = time.monotonic()
    original = build_state(config, keys)
    built_s = time.monotonic() - started
    create_topics(bootstrap, readings)  # the changelog takes its partition count from it
    try:
        written = write_changelog(config, original)
        print(
            f"  state: {keys:,} keys, {original.open_windows():,} open windows built in"
            f" {built_s:.1f} s; changelog {written['records']:,} records"
            f" {written['bytes'] / 1e6:.1f} MB written in {written['write_s']:.1f} s",
            flush=True,
        )
        results = [restore_once(config, original, keys, i) for i in range(runs)]
    finally:
        changelog = config.changelog_topic
        extra = (changelog,) if topic_exists(bootstrap, changelog) else ()
        delete_topics(bootstrap, readings, *extra)
    seconds = _stats([r["seconds"] for r in results])
    return {
        "keys": keys,
        "readings": keys * READINGS_PER_KEY,
        "open_windows": original.open_windows(),
        "windows": [repr(w) for w in config.processing.windows],
        "rules": [r.name for r in config.processing.rules],
        "written": written,
        "runs": results,
        "seconds": seconds,
        "read_s": _stats([r["read_s"] for r in results]),
        "apply_s": _stats([r["apply_s"] for r in results]),
        "records": _stats([r["records"] for r in results]),
        "bytes": _stats([r["bytes"] for r in results]),
        "target_s": TARGET_S,
        "within_target": seconds["median"] < TARGET_S,
        "correct": all(r["correct"] for r in results),
    }
