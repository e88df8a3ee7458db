"""The command line in-process: help for every command, exit codes, the demo configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry.cli import build_parser, main
from telemetry.config import Config, ProcessingConfig, TopicsConfig
from telemetry.demo import demo_config
from telemetry.kafka import topic_plans

COMMANDS = ["run", "simulate", "topics", "demo"]


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in COMMANDS)])
def test_help_for_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: telemetry")


def test_every_command_has_help_text() -> None:
    parser = build_parser()
    text = parser.format_help()
    for command in COMMANDS:
        assert command in text


def test_run_requires_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run"])
    assert exited.value.code == 2
    assert "--config" in capsys.readouterr().err


def test_config_error_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: {port: -1}\n")
    assert main(["run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err == "telemetry: config error: metrics.port: must be in 0..65535 (0 picks a free port)\n"
    )


@pytest.mark.parametrize("flag", ["0", "-2", "auto", "1.5"])
def test_bad_workers_flag_is_one_line_exit_2(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text("kafka: {bootstrap_servers: '127.0.0.1:1'}\n")
    assert main(["run", "--config", str(config), "--workers", flag]) == 2
    assert capsys.readouterr().err == (
        "telemetry: config error: --workers: must be an integer >= 1 (one group member per "
        f"worker process), got {flag!r}\n"
    )


def test_bad_workers_key_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("processing: {workers: 0}\n")
    assert main(["run", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "telemetry: config error: processing.workers: must be an integer >= 1 (one group "
        "member per worker process), got 0\n"
    )


def test_bad_simulator_flag_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--late-fraction", "2"]) == 2
    assert capsys.readouterr().err == (
        "telemetry: config error: --late-fraction: must be in [0, 1], got 2.0\n"
    )


def test_topic_plans_are_delete_with_retention() -> None:
    config = Config(topics=TopicsConfig(late="late", partitions=3, retention_ms=1000))
    plans = topic_plans(config)
    assert [p.name for p in plans] == [
        "telemetry.readings",
        "telemetry.rollups",
        "telemetry.alerts",
        "telemetry.deadletter",
        "late",
        "telemetry-state-changelog",
    ]
    assert all(p.partitions == 3 for p in plans)
    assert all(
        p.configs == {"cleanup.policy": "delete", "retention.ms": "1000"} for p in plans[:-1]
    )


def test_changelog_plan_is_compacted_with_the_readings_partition_count() -> None:
    config = Config(
        topics=TopicsConfig(partitions=3, changelog="state"),
        processing=ProcessingConfig(group_id="g"),
    )
    changelog = topic_plans(config, readings_partitions=5)[-1]
    assert changelog.name == "state"
    assert changelog.partitions == 5
    assert changelog.configs == {"cleanup.policy": "compact", "retention.ms": "-1"}
    off = Config(processing=ProcessingConfig(group_id="g", changelog=False))
    assert all("changelog" not in p.name for p in topic_plans(off))
    assert Config(processing=ProcessingConfig(group_id="g")).changelog_topic == (
        "g-state-changelog"
    )


def test_demo_config_has_short_windows_and_rules() -> None:
    config = demo_config("127.0.0.1:9092", 0)
    assert all(getattr(w, "size_ms", 0) <= 30_000 for w in config.processing.windows)
    assert {type(r).__name__ for r in config.processing.rules} == {
        "ThresholdRule",
        "RateOfChangeRule",
        "SilentRule",
    }
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
