"""Watch a processor's output topics: arrival times, and a check against the expected output."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from fastavro import schemaless_reader

from bench._common import PARTITIONS
from bench.w1 import WINDOW_MS, AlertKey, Expected, RollupKey, rule_name
from telemetry.codec import SCHEMA_DIR, load_schema_file
from telemetry.codec._schemas import ALERT_FILE, ROLLUP_FILE
from telemetry.codec._schemas import parse_plain as parse
from telemetry.kafka._source import consume_arrived

MEAN_TOLERANCE = 1e-9


@dataclass
class Verdict:
    """What arrived compared with what should have."""

    rollups_ok: int = 0
    alerts_ok: int = 0
    missing: int = 0
    duplicates: int = 0
    unexpected: int = 0
    wrong: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return not (self.missing or self.duplicates or self.unexpected or self.wrong)

    def as_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "rollups_ok": self.rollups_ok,
            "alerts_ok": self.alerts_ok,
            "missing": self.missing,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "wrong": self.wrong,
            "examples": self.examples[:5],
        }


class Observer(threading.Thread):
    """Consumes ``rollups`` and ``alerts`` from the beginning; checks each record on arrival.

    ``done`` is set once every expected record has arrived; ``finished_at`` is that moment
    (``time.monotonic()``). ``alert_arrivals`` maps each alert's identity to its first arrival.
    """

    def __init__(
        self, bootstrap: str, rollups: str, alerts: str, expected: Expected | None
    ) -> None:
        super().__init__(name="observer", daemon=True)
        self.rollups_topic, self.alerts_topic = rollups, alerts
        self.expected = expected
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-observer",
                "enable.auto.commit": False,
                # Outputs of exactly-once mode count once committed (no effect otherwise).
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 5,
                "fetch.queue.backoff.ms": 1,
            }
        )
        self.consumer.assign(
            [
                TopicPartition(t, p, OFFSET_BEGINNING)
                for t in (rollups, alerts)
                for p in range(PARTITIONS)
            ]
        )
        self._rollup = parse(load_schema_file(SCHEMA_DIR / ROLLUP_FILE))
        self._alert = parse(load_schema_file(SCHEMA_DIR / ALERT_FILE))
        self.seen_rollups: set[RollupKey] = set()
        self.alert_arrivals: dict[AlertKey, float] = {}
        self.verdict = Verdict()
        self.remaining = len(expected.rollups) + len(expected.alerts) if expected else -1
        self.received = 0
        self.done = threading.Event()
        self.finished_at = 0.0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._halt.is_set():
            self.poll(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def poll(self, timeout: float) -> int:
        with self._lock:
            # Wake on the first arrival, as the source does: an alert's arrival time is when
            # it arrived, not when a batch filled.
            batch = consume_arrived(self.consumer, 10_000, timeout)
            now = time.monotonic()
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(str(error))
                    continue
                self.received += 1
                is_rollup = message.topic() == self.rollups_topic
                if is_rollup and self.expected is None:
                    continue  # nothing to check: decoding them would delay the alerts behind
                raw = message.value() or b""
                if raw[:1] == b"{":  # the bare loop's JSON
                    record = json.loads(raw)
                    if is_rollup:
                        self._on_rollup(_from_bare(record))
                    else:
                        self._on_alert(record, now)
                    continue
                body = BytesIO(raw)
                body.seek(5)
                if is_rollup:
                    self._on_rollup(schemaless_reader(body, self._rollup, None))  # type: ignore[arg-type]
                else:
                    self._on_alert(schemaless_reader(body, self._alert, None), now)  # type: ignore[arg-type]
            if self.remaining == 0 and not self.done.is_set():
                self.finished_at = now
                self.done.set()
            return len(batch)

    def drain_to_end(self, quiet: float = 2.0) -> None:
        """After the processor stopped: read on until nothing arrived for ``quiet`` seconds."""
        self.stop()
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            if self.poll(0.2):
                last = time.monotonic()
        self.consumer.close()

    def finish(self) -> Verdict:
        v = self.verdict
        if self.expected is not None:
            v.missing = len(self.expected.rollups) - len(self.seen_rollups)
            v.missing += len(self.expected.alerts) - len(
                [k for k in self.alert_arrivals if k in self.expected.alerts]
            )
        return v

    def _bad(self, kind: str, record: dict[str, Any]) -> None:
        v = self.verdict
        if len(v.examples) < 5:
            v.examples.append(f"{kind}: {record}")

    def _on_rollup(self, r: dict[str, Any]) -> None:
        if self.expected is None:
            return
        key = (r["device_id"], r["sensor"], r["window_start"])
        want = self.expected.rollups.get(key)
        v = self.verdict
        if want is None:
            v.unexpected += 1
            self._bad("unexpected rollup", r)
            return
        if key in self.seen_rollups:
            v.duplicates += 1
            self._bad("duplicate rollup", r)
            return
        self.seen_rollups.add(key)
        self.remaining -= 1
        count, lo, hi, total = want
        ok = (
            r["count"] == count
            and r["min"] == lo
            and r["max"] == hi
            and math.isclose(r["mean"], total / count, rel_tol=MEAN_TOLERANCE)
            and r["window_kind"] == "TUMBLING"
            and r["window_size_ms"] == WINDOW_MS
            and r["window_end"] == r["window_start"] + WINDOW_MS
        )
        if ok:
            v.rollups_ok += 1
        else:
            v.wrong += 1
            self._bad(f"wrong rollup (want count/min/max/sum {want})", r)

    def _on_alert(self, a: dict[str, Any], now: float) -> None:
        key = (a["device_id"], a["sensor"], a["state"], a["ts"])
        v = self.verdict
        if key in self.alert_arrivals:
            v.duplicates += 1
            self._bad("duplicate alert", a)
            return
        self.alert_arrivals[key] = now
        if self.expected is None:
            return
        want = self.expected.alerts.get(key)
        if want is None:
            v.unexpected += 1
            self._bad("unexpected alert", a)
            return
        self.remaining -= 1
        if a["value"] == want and a["rule"] == rule_name(a["sensor"]):
            v.alerts_ok += 1
        else:
            v.wrong += 1
            self._bad(f"wrong alert (want value {want})", a)


def _from_bare(r: dict[str, Any]) -> dict[str, Any]:
    """A bare-loop JSON rollup (count/min/max/sum) in the Avro rollup's terms."""
    return {
        **r,
        "mean": r["sum"] / r["count"],
        "window_kind": "TUMBLING",
        "window_size_ms": r["window_end"] - r["window_start"],
    }
