"""The member replaces its app when exactly-once work is lost, backs off, and stops on request."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from telemetry import member as member_module
from telemetry.app import App
from telemetry.config import Config
from telemetry.errors import RejoinError, StageError
from telemetry.member import Member


class _App:
    """Stands in for the processor: its run raises what the script says, or waits for a drain."""

    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome = outcome
        self.drained = threading.Event()

    def run(self) -> None:
        if self.outcome is not None:
            raise self.outcome
        self.drained.wait(10)

    def request_drain(self) -> None:
        self.drained.set()

    def request_stop(self) -> None:
        self.drained.set()


def _member(*outcomes: BaseException | None) -> tuple[Member, list[_App]]:
    script = list(outcomes)
    built: list[_App] = []

    def build(_: Config) -> App:
        app = _App(script.pop(0) if script else None)
        built.append(app)
        return cast(App, app)

    return Member(cast(Config, object()), build=build), built


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(member_module, "FIRST_BACKOFF_S", 0.01)


def test_a_lost_transaction_builds_a_fresh_app_that_runs_on() -> None:
    member, built = _member(RejoinError("fenced"), RejoinError("aborted"))
    runner = threading.Thread(target=member.run)
    runner.start()
    deadline = time.monotonic() + 5
    while len(built) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert member.app is cast(Any, built[2])
    member.request_drain()
    runner.join(5)
    assert not runner.is_alive()
    assert member.rejoins == 2
    assert built[2].drained.is_set()


def test_a_drain_during_the_backoff_ends_without_another_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(member_module, "FIRST_BACKOFF_S", 30.0)
    member, built = _member(RejoinError("cannot start the transactional producer"))
    runner = threading.Thread(target=member.run)
    runner.start()
    time.sleep(0.2)
    started = time.monotonic()
    member.request_drain()
    runner.join(5)
    assert not runner.is_alive()
    assert time.monotonic() - started < 1.0
    assert len(built) == 1
    assert member.rejoins == 0


def test_any_other_failure_is_not_a_rejoin() -> None:
    member, built = _member(StageError("aggregate failed"))
    with pytest.raises(StageError, match="aggregate failed"):
        member.run()
    assert len(built) == 1


def test_the_backoff_doubles_up_to_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    def pause(_: Member, seconds: float) -> bool:
        pauses.append(seconds)
        return True

    monkeypatch.setattr(member_module, "MAX_BACKOFF_S", 0.04)
    monkeypatch.setattr(Member, "_pause", pause)
    member, _ = _member(*(RejoinError("again") for _ in range(4)))
    threading.Timer(1.0, member.request_drain).start()
    member.run()
    assert pauses == [0.01, 0.02, 0.04, 0.04]
