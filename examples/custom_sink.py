"""Python API example: an output sink of your own, beside the Kafka topics.

``AlertLog`` appends every alert to a JSON-lines file and acknowledges each one once it is
flushed to disk; until then the reading that caused it is not committed, so a crash replays it
rather than lose it (a replayed alert is appended again: the log is at-least-once). Run it
against the local broker (``make kafka-up``):

    .venv/bin/python examples/custom_sink.py alerts.jsonl
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Collection
from pathlib import Path
from typing import IO

from telemetry.app import App
from telemetry.config import Config, ProcessingConfig
from telemetry.rules import ThresholdRule
from telemetry.sinks import Delivery
from telemetry.windows import Tumbling


class AlertLog:
    """An :class:`~telemetry.sinks.OutputSink`: ``send`` must not block for long, so this one
    suits a local disk; a network sink queues and delivers from a thread (see the webhook)."""

    name = "alert-log"
    kinds: Collection[str] = ("alert",)
    capacity = 1_000  # deliveries held unacknowledged at most: the pipeline waits beyond

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def start(self) -> None:
        self._file = self.path.open("a", encoding="utf-8")  # closed in stop

    def send(self, deliveries: list[Delivery]) -> None:
        if self._file is None:
            raise RuntimeError("AlertLog.send before start")
        for delivery in deliveries:
            self._file.write(json.dumps(dict(delivery.record)) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())  # durable before acknowledged
        for delivery in deliveries:
            delivery.ack()

    def stop(self, timeout: float) -> None:
        del timeout  # every delivery was acked in send
        if self._file is not None:
            self._file.close()
            self._file = None


def build(path: str) -> App:
    config = Config(
        processing=ProcessingConfig(
            windows=(Tumbling(size_ms=60_000),),
            rules=(ThresholdRule(name="overheat", sensor="temp", raise_at=90, clear_at=80),),
        )
    )
    return App(config, sinks=[AlertLog(path)])


if __name__ == "__main__":
    app = build(sys.argv[1] if len(sys.argv) > 1 else "alerts.jsonl")
    signal.signal(signal.SIGINT, lambda *_: app.request_drain())
    signal.signal(signal.SIGTERM, lambda *_: app.request_drain())
    app.run()
