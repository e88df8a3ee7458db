"""What the harness reports: W1's kinds and ratios, and the README table (no broker needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report, throughput
from bench.w1 import Expected


def fake_run(kind: str, events_per_s: float) -> dict[str, Any]:
    run: dict[str, Any] = {
        "events_per_s": events_per_s,
        "cpu_s": 5.0,
        "peak_rss_mb": 200.0,
        "correct": True,
    }
    if kind == throughput.TELEMETRY_KIND:
        run["changelog"] = {
            "bytes": 2e6,
            "records": 10_000.0,
            "bytes_per_s": 2.5e5,
            "records_per_s": 1_250.0,
        }
    return run


RATES = {
    "baseline": 200_000.0,
    "baseline-equal": 187_500.0,
    "telemetry": 150_000.0,
    "telemetry-nochangelog": 160_000.0,
    "telemetry-exactly-once": 120_000.0,
    "telemetry-2-workers": 225_000.0,
}


def test_w1_rounds_run_every_kind_interleaved_and_report_the_changelog_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[tuple[str, int]] = []

    def run_once(bootstrap: str, kind: str, expected: Expected, index: int) -> dict[str, Any]:
        del bootstrap, expected
        order.append((kind, index))
        return fake_run(kind, RATES[kind] + 1_000 * index)

    monkeypatch.setattr(throughput, "run_once", run_once)
    result = throughput.run("127.0.0.1:9092", Expected(), 2)
    assert order == [(k, i) for i in range(2) for k in throughput.KINDS]
    assert result["telemetry-nochangelog"]["events_per_s"]["median"] == 160_500.0
    assert result["ratio"] == pytest.approx(150_500 / 200_500)
    assert result["equal_work_ratio"] == pytest.approx(150_500 / 188_000)
    assert result["equal_work_ratios_per_round"] == pytest.approx(
        [150_000 / 187_500, 151_000 / 188_500]
    )
    assert result["changelog_ratio"] == pytest.approx(150_500 / 160_500)
    assert result["changelog_cost"] == pytest.approx(1 - 150_500 / 160_500)
    assert result["changelog_ratios_per_round"] == pytest.approx(
        [150_000 / 160_000, 151_000 / 161_000]
    )
    assert result["telemetry"]["changelog"]["bytes_per_s"]["median"] == 2.5e5
    assert "changelog" not in result["telemetry-nochangelog"]
    assert result["exactly_once_ratio"] == pytest.approx(120_500 / 150_500)
    assert result["two_workers_ratio"] == pytest.approx(225_500 / 150_500)
    assert result["exactly_once_ratios_per_round"] == pytest.approx(
        [120_000 / 150_000, 121_000 / 151_000]
    )


def _save(directory: Path, name: str, result: dict[str, Any]) -> None:
    stamped = {"command": "python -m bench.harness", "date": "today", "machine": "m", **result}
    (directory / f"{name}.json").write_text(json.dumps(stamped))


def test_the_table_shows_the_changelog_figures_and_the_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throughput, "run_once", lambda *a: fake_run(a[1], RATES[a[1]]))
    _save(tmp_path, "w1", throughput.run("127.0.0.1:9092", Expected(), 1))
    stats = {"median": 2.0, "min": 1.5, "max": 2.5}
    restore = {
        "keys": 100_000,
        "open_windows": 100_000,
        "runs": [{}, {}, {}],
        "seconds": stats,
        "read_s": stats,
        "apply_s": stats,
        "records": {"median": 100_001, "min": 100_001, "max": 100_001},
        "bytes": {"median": 17.7e6, "min": 17.7e6, "max": 17.7e6},
        "target_s": 5.0,
        "within_target": True,
        "correct": True,
    }
    _save(tmp_path, "restore", restore)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.table()
    assert "| telemetry-nochangelog | 160,000 (160,000 - 160,000) |" in text
    assert "telemetry / baseline (the bare loop): **0.75**" in text
    assert "telemetry / baseline-equal (the equal-work loop): **0.80**" in text
    assert "changelog on / off (telemetry / telemetry-nochangelog): **0.94**" in text
    assert "costs 6% of throughput, within the target of at most 10%" in text
    assert "0.25 (0.25 - 0.25) MB/s, 1,250 (1,250 - 1,250) records/s" in text
    assert "| 100,000 | 100,000 | 2.00 (1.50 - 2.50) |" in text
    assert "target under 5 s: met" in text
    assert "| telemetry-exactly-once | 120,000 (120,000 - 120,000) |" in text
    assert "exactly-once / at-least-once (telemetry-exactly-once / telemetry): **0.80**" in text
    assert "2 workers / 1 (telemetry-2-workers / telemetry): **1.50**" in text
    assert "CPU s per million readings: 5.0 with 1, 5.0 with 2" in text


def test_each_latency_variant_gets_its_row_with_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"achieved_rate": 20_000.0, "anomalies": 600, "missing": 0}
    _save(tmp_path, "latency", {**base, "p50_ms": 9.0, "p99_ms": 60.0, "max_ms": 90.0})
    eos = {**base, "p50_ms": 70.0, "p99_ms": 140.0, "max_ms": 180.0}
    _save(tmp_path, "latency-exactly-once-commit-100ms", eos)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.table()
    assert "| latency | today | 20,000 | 600 | 9.0 / 60.0 / 90.0 | 0 |" in text
    assert (
        "| latency-exactly-once-commit-100ms | today | 20,000 | 600 | 70.0 / 140.0 / 180.0" in text
    )


def test_w1_results_from_before_the_changelog_still_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = {k: throughput.summarize([fake_run("baseline", RATES[k])]) for k in RATES}
    for newer in ("telemetry-nochangelog", "telemetry-exactly-once", "baseline-equal"):
        del kinds[newer]
    del kinds["telemetry-2-workers"]
    _save(tmp_path, "w1", {**kinds, "ratio": 0.75, "ratios_per_round": [0.75]})
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.table()
    assert "| telemetry | 150,000" in text
    assert "nochangelog" not in text
    assert "on / off" not in text
    assert "exactly-once" not in text
    assert "equal-work" not in text
    assert "workers" not in text
