"""Fuzzing through the real pipeline: 100,000 mutated records through ``telemetry run``.

The records come from :mod:`tests.integration.mutations` (bit flips, truncation, oversized,
wrong magic, unknown schema ids, extreme doubles, huge strings, invalid UTF-8). Required: the
process never dies or escalates, every record is a reading or a dead letter with a reason (the
decode stage emits one event per record), and the committed offsets reach every partition's end.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bench._common import PARTITIONS, create_topics, metric, scrape
from bench._proc import TELEMETRY, Outputs, delete_outputs, start, stop, wait_ready, write_config
from tests.integration.mutations import produce_mutated

RECORDS = 100_000
TIMEOUT_S = 600.0


def _offsets(bootstrap: str, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(committed offsets of ``group``, end offsets) per partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()
    return committed, ends


def run(bootstrap: str, count: int = RECORDS) -> dict[str, Any]:
    out = Outputs("fuzz")
    readings = f"bench.fuzz.{out.group}"
    create_topics(bootstrap, readings, *out.topics)
    kinds = produce_mutated(bootstrap, readings, count)
    config, port = write_config(bootstrap, readings, out)
    process = start([TELEMETRY, "run", "--config", str(config)], "fuzz-telemetry.log")
    started = time.monotonic()
    samples: dict[str, float] = {}
    committed: dict[int, int] = {}
    ends: dict[int, int] = {}
    try:
        wait_ready(process, port)
        while time.monotonic() - started < TIMEOUT_S and process.poll() is None:
            samples = scrape(port, 5.0)
            copies = metric(samples, "telemetry_key_mismatch_readings_total", None)
            if metric(samples, "telemetry_kafka_consumed_messages_total") >= count + copies:
                committed, ends = _offsets(bootstrap, out.group, readings)
                if committed == ends:
                    break
            time.sleep(1.0)
        alive = process.poll() is None
    finally:
        code = stop(process)
        config.unlink()
        delete_outputs(bootstrap, out)
    elapsed = time.monotonic() - started
    reasons = {
        name.split('reason="', 1)[1].split('"', 1)[0]: value
        for name, value in samples.items()
        if name.startswith("telemetry_deadletter_records_total{")
    }
    decoded = metric(samples, "telemetry_stage_events_out_total", "decode")
    rekeyed = metric(samples, "telemetry_key_mismatch_readings_total", None)
    result = {
        "records": count,
        "mutations": dict(kinds),
        "consumed": metric(samples, "telemetry_kafka_consumed_messages_total"),
        "decode_events": decoded,
        "rekeyed": rekeyed,
        "dead_letters": sum(reasons.values()),
        "dead_letter_reasons": reasons,
        "stage_failures": metric(samples, "telemetry_stage_failures_total", None),
        "alive_to_the_end": alive,
        "exit_code": code,
        "committed_to_end": bool(ends) and committed == ends,
        "seconds": elapsed,
    }
    result["correct"] = bool(
        alive
        and code == 0
        and decoded == count + rekeyed
        and result["committed_to_end"]
        and not result["stage_failures"]
    )
    print(
        f"  {count:,} mutated records in {elapsed:.0f} s:"
        f" dead letters {result['dead_letters']:,.0f} {reasons},"
        f" re-keyed {rekeyed:,.0f}, decode events {decoded:,.0f}, committed to the end:"
        f" {result['committed_to_end']}, exit {code}: {'ok' if result['correct'] else 'FAILED'}",
        flush=True,
    )
    return result
