"""The stop budget: steps share one deadline that starts at the first ask."""

from __future__ import annotations

import threading

from telemetry.stages import StopBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steps_share_one_deadline_from_the_first_ask() -> None:
    clock = Clock()
    budget = StopBudget(30.0, clock=clock)
    clock.now += 1_000.0  # time before the stop does not count
    assert budget.remaining(10.0) == 10.0
    clock.now += 25.0  # the first step took 25 s
    assert budget.remaining(10.0) == 5.0
    clock.now += 10.0
    assert budget.remaining(10.0) == 0.0


def test_reset_gives_a_restarted_stage_the_whole_budget() -> None:
    clock = Clock()
    budget = StopBudget(30.0, clock=clock)
    budget.remaining(1.0)
    clock.now += 40.0
    budget.reset()
    assert budget.remaining(50.0) == 30.0


def test_a_step_that_hangs_is_left_behind_at_its_timeout() -> None:
    release = threading.Event()

    def hang() -> None:
        release.wait(30.0)

    budget = StopBudget(0.3)
    assert not budget.run(hang, 10.0, name="hangs")  # cut at the budget, not at the cap
    release.set()
    assert StopBudget().run(lambda: None, 5.0, name="quick")
