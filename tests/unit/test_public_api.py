"""The package's curated surface: exactly the intended names, each importable."""

from __future__ import annotations

import telemetry


def test_public_names_are_the_intended_set() -> None:
    assert sorted(telemetry.__all__) == [
        "App",
        "CodecError",
        "Config",
        "ConfigError",
        "KafkaClientError",
        "Member",
        "StageError",
        "TelemetryError",
        "__version__",
        "load_config",
    ]
    for name in telemetry.__all__:
        assert getattr(telemetry, name) is not None


def test_every_error_derives_from_the_one_root() -> None:
    for name in ("CodecError", "ConfigError", "KafkaClientError", "StageError"):
        assert issubclass(getattr(telemetry, name), telemetry.TelemetryError)
