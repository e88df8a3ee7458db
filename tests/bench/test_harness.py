"""The benchmark harness's command line: `make bench` runs it with no arguments."""

from __future__ import annotations

import pytest

from bench.harness import SCENARIOS, build_parser, scenarios


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
