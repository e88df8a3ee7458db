"""Logging setup: JSON lines for machines, plain text for people at a terminal."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from telemetry.config import LogConfig

_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
_HANDLER_NAME = "telemetry"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def use_json(config: LogConfig, stream: TextIO) -> bool:
    """``json``/``text`` as configured; ``auto`` is JSON unless ``stream`` is a terminal."""
    if config.format != "auto":
        return config.format == "json"
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def configure_logging(
    config: LogConfig, stream: TextIO | None = None, *, worker: int | None = None
) -> logging.Handler:
    """Route the root logger to ``stream`` (default stderr) at ``config.level``.

    ``worker``: the index of a ``telemetry run --workers`` worker, whose lines share the pod's
    stream with its siblings': each line carries it (``"worker": 1``, ``[worker 1]``).
    Calling it again replaces the handler it installed before; other handlers are left alone.
    Returns the installed handler.
    """
    target = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(target)
    handler.set_name(_HANDLER_NAME)
    json_lines = use_json(config, target)
    handler.setFormatter(JsonFormatter() if json_lines else _text_formatter(worker))
    if worker is not None and json_lines:
        handler.addFilter(_WorkerTag(worker))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    return handler


class _WorkerTag(logging.Filter):
    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


def _text_formatter(worker: int | None = None) -> logging.Formatter:
    if worker is None:
        return logging.Formatter(TEXT_FORMAT, datefmt="%H:%M:%S")
    tagged = TEXT_FORMAT.replace("%(name)s", f"[worker {worker}] %(name)s")
    return logging.Formatter(tagged, datefmt="%H:%M:%S")
