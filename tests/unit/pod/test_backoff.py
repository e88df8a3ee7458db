"""The restart back-off: doubling, capped, and reset by a healthy run."""

from __future__ import annotations

from telemetry.pod import RestartBackoff


def test_the_backoff_doubles_up_to_its_cap() -> None:
    backoff = RestartBackoff()
    assert [backoff.after(ran_for=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_healthy_run_starts_over_from_the_first_backoff() -> None:
    backoff = RestartBackoff(first=0.5, cap=4.0, healthy_after=60.0)
    assert [backoff.after(1.0) for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.after(59.0) == 4.0  # not healthy long enough
    assert backoff.after(60.0) == 0.5
    assert backoff.after(1.0) == 1.0
