"""Locating the external tools the chart tests run: ``helm`` and ``promtool``.

``scripts/install-tools`` (``make tools``) puts them in ``~/.cache/telemetry/tools/bin`` (or
``$TELEMETRY_TOOLS_DIR/bin``); a tool on PATH is used otherwise. A missing tool fails the test
with the command that installs it: these checks never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "telemetry"
TOOLS_BIN = (
    Path(os.environ.get("TELEMETRY_TOOLS_DIR", Path.home() / ".cache" / "telemetry" / "tools"))
    / "bin"
)


def find_tool(name: str) -> str:
    """The path of ``name``: the project's tool cache first (pinned versions), then PATH."""
    cached = TOOLS_BIN / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    on_path = shutil.which(name)
    if on_path is not None:
        return on_path
    pytest.fail(
        f"{name} not found in {TOOLS_BIN} nor on PATH: run `make tools` "
        "(scripts/install-tools) to install the chart test tools",
        pytrace=False,
    )


def run(argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a tool; the caller checks ``returncode`` and reads stdout/stderr."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def run_ok(argv: list[str], *, timeout: float = 60) -> str:
    """Run a tool that must succeed; fail the test with its output otherwise."""
    result = run(argv, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(argv)}` exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout
