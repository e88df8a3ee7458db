"""The benchmark harness's command line: `make bench` runs it with no arguments."""

from __future__ import annotations

import pytest

from bench.harness import SCENARIOS, build_parser, latency_name, latency_processing, scenarios


def chosen(*argv: str) -> tuple[str, ...]:
    return scenarios(build_parser().parse_args(list(argv)))


def test_no_scenario_named_runs_them_all() -> None:
    assert chosen() == SCENARIOS
    assert chosen("all") == SCENARIOS


def test_named_scenarios_run_in_harness_order() -> None:
    assert chosen("memory", "w1") == ("w1", "memory")
    assert chosen("restore", "w1") == ("w1", "restore")


def test_every_benchmark_of_issues_8_12_and_14_is_a_scenario() -> None:
    assert SCENARIOS == ("w1", "latency", "memory", "profile", "restore", "fuzz")


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(SystemExit):
        chosen("speed")


def test_the_exactly_once_latency_run_has_its_own_result_and_config() -> None:
    args = build_parser().parse_args(
        ["latency", "--guarantee", "exactly_once", "--commit-interval", "0.1"]
    )
    assert latency_processing(args) == {"guarantee": "exactly_once", "commit_interval_s": 0.1}
    assert latency_name(args) == "latency-exactly-once-commit-100ms"
    slower = build_parser().parse_args(["latency", "--guarantee", "exactly_once"])
    slower.latency_rate = 5_000.0
    assert latency_name(slower) == "latency-exactly-once-5000rps"
    default = build_parser().parse_args(["latency"])
    assert (latency_processing(default), latency_name(default)) == ({}, "latency")
