"""Preparing the changelog waits for a readings topic created a moment before."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from confluent_kafka.admin import AdminClient

from telemetry.errors import StateError
from telemetry.kafka._changelog import ensure_changelog


class _Admin:
    """Metadata that shows the readings topic only from the ``appears_at``-th request on."""

    def __init__(self, appears_at: int) -> None:
        self.appears_at = appears_at
        self.requests = 0

    def list_topics(self, **_: float) -> Any:
        self.requests += 1
        topics: dict[str, Any] = {}
        if self.requests >= self.appears_at:
            topics["readings"] = SimpleNamespace(error=None, partitions={0: None, 1: None})
            topics["changelog"] = SimpleNamespace(error=None, partitions={0: None, 1: None})
        return SimpleNamespace(topics=topics)


def _ensure(admin: _Admin, timeout: float) -> int:
    return ensure_changelog(
        cast(AdminClient, admin),
        "changelog",
        readings_topic="readings",
        replication_factor=1,
        timeout=timeout,
    )


def test_a_readings_topic_not_yet_in_the_metadata_is_waited_for() -> None:
    admin = _Admin(appears_at=3)
    assert _ensure(admin, timeout=5.0) == 2
    assert admin.requests == 3


def test_a_readings_topic_that_never_appears_is_a_clear_error() -> None:
    admin = _Admin(appears_at=10**9)
    with pytest.raises(StateError, match="the readings topic readings does not exist"):
        _ensure(admin, timeout=0.5)
    assert admin.requests >= 2
