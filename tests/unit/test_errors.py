"""The error tree: one root, a registry outage beside (not under) CodecError, ``retriable``."""

from __future__ import annotations

import inspect

import pytest

from telemetry import errors

ERRORS: dict[str, type[errors.TelemetryError]] = {
    name: cls
    for name, cls in vars(errors).items()
    if inspect.isclass(cls) and issubclass(cls, errors.TelemetryError)
}

PARENTS = {
    "TelemetryError": Exception,
    "ConfigError": errors.TelemetryError,
    "StageError": errors.TelemetryError,
    "KafkaClientError": errors.TelemetryError,
    "RejoinError": errors.KafkaClientError,
    "CodecError": errors.TelemetryError,
    "SchemaSourceError": errors.TelemetryError,
    "StateError": errors.TelemetryError,
    "SinkError": errors.TelemetryError,
    "WorkerError": errors.TelemetryError,
}

RETRIABLE = {"RejoinError", "SchemaSourceError"}
"""The errors the package itself retries (the member rejoins; the decode batch is retried)."""


def test_the_tree_is_the_documented_one() -> None:
    defined = {
        name
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException)
    }
    assert defined == set(ERRORS) == set(PARENTS)  # every error is under the one root
    for name, parent in PARENTS.items():
        assert ERRORS[name].__bases__ == (parent,), name


def test_a_schema_source_outage_is_no_codec_error() -> None:
    # Code that dead-letters every CodecError must not dead-letter a registry outage.
    assert not issubclass(errors.SchemaSourceError, errors.CodecError)
    assert not issubclass(errors.CodecError, errors.SchemaSourceError)


@pytest.mark.parametrize("name", sorted(PARENTS))
def test_retriable_is_a_class_attribute(name: str) -> None:
    cls = ERRORS[name]
    assert cls.retriable is (name in RETRIABLE)


def test_instances_carry_their_class_retriable() -> None:
    assert errors.SchemaSourceError("registry down").retriable is True
    assert errors.RejoinError("fenced", topic="t").retriable is True
    assert errors.KafkaClientError("fatal").retriable is False
    assert errors.CodecError("bad_magic", "magic byte 1").retriable is False
    assert errors.TelemetryError("anything").retriable is False
