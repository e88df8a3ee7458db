"""The package's curated surface: exactly the intended names, each importable."""

from __future__ import annotations

import subprocess
import sys

import telemetry


def test_public_names_are_the_intended_set() -> None:
    assert sorted(telemetry.__all__) == [
        "App",
        "CodecError",
        "Config",
        "ConfigError",
        "KafkaClientError",
        "LocalKafkaError",
        "Member",
        "StageError",
        "TelemetryError",
        "__version__",
        "load_config",
    ]
    for name in telemetry.__all__:
        assert getattr(telemetry, name) is not None


def test_every_error_derives_from_the_one_root() -> None:
    for name in ("CodecError", "ConfigError", "KafkaClientError", "LocalKafkaError", "StageError"):
        assert issubclass(getattr(telemetry, name), telemetry.TelemetryError)


def test_importing_the_package_does_not_load_the_processor() -> None:
    # kafka-local runs before dependencies exist: the package import must stay light.
    code = "import sys, telemetry.localkafka; print('telemetry.app' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
