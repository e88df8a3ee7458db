"""Logging: JSON lines off a terminal, text on one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from telemetry.config import LogConfig
from telemetry.logs import configure_logging


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(LogConfig(), stream)
    logging.getLogger("telemetry.x").info("hello %s", "world", extra={"partition": 3})
    try:
        int("boom")
    except ValueError:
        logging.getLogger("telemetry.x").exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "hello world"
    assert first["level"] == "INFO"
    assert first["logger"] == "telemetry.x"
    assert first["partition"] == 3
    assert first["ts"].endswith("+00:00")
    assert "ValueError: invalid literal" in second["exc"]


def test_text_on_a_terminal() -> None:
    stream = Tty()
    configure_logging(LogConfig(), stream)
    logging.getLogger("telemetry.y").warning("careful")
    line = stream.getvalue().strip()
    assert line.endswith("WARNING telemetry.y: careful")


def test_format_and_level_forced() -> None:
    stream = Tty()
    configure_logging(LogConfig(format="json", level="WARNING"), stream)
    logging.getLogger("telemetry.z").info("hidden")
    logging.getLogger("telemetry.z").error("shown")
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "shown"


def test_configuring_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(LogConfig(format="text"), first)
    configure_logging(LogConfig(format="text"), second)
    logging.getLogger("telemetry.w").info("once")
    assert first.getvalue() == ""
    assert "once" in second.getvalue()


def test_a_workers_lines_carry_its_index() -> None:
    stream = io.StringIO()
    configure_logging(LogConfig(format="json"), stream, worker=1)
    logging.getLogger("telemetry.v").info("assigned")
    assert json.loads(stream.getvalue())["worker"] == 1
    text = Tty()
    configure_logging(LogConfig(), text, worker=2)
    logging.getLogger("telemetry.v").warning("careful")
    assert text.getvalue().strip().endswith("WARNING [worker 2] telemetry.v: careful")
