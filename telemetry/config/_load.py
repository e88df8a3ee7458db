"""Loading a :class:`Config`: YAML file, then environment overrides, then secrets from files.

Precedence (later wins): the model's defaults, the YAML file, ``TELEMETRY_<SECTION>__<KEY>``
environment variables. A key ``<name>_file`` (in the file or the environment) reads the named
file, stripped, into ``<name>`` (for example ``kafka.sasl_password_file``).

Every problem is reported as one :class:`~telemetry.errors.ConfigError` whose message starts
with the key path, e.g. ``processing.windows[1].advance_ms: must be <= size_ms (10000)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from telemetry.config._model import (
    Config,
    KafkaConfig,
    LogConfig,
    MetricsConfig,
    ProcessingConfig,
    SchemasConfig,
    TopicsConfig,
)
from telemetry.errors import ConfigError
from telemetry.rules import RULE_KINDS, RateOfChangeRule, ThresholdRule
from telemetry.sinks import SINK_KINDS
from telemetry.windows import WINDOW_KINDS, Hopping

ENV_PREFIX = "TELEMETRY_"
ENV_SEPARATOR = "__"
SECRET_SUFFIX = "_file"  # noqa: S105  # a key suffix, not a password

_SECTIONS: dict[str, type[Any]] = {
    "kafka": KafkaConfig,
    "topics": TopicsConfig,
    "schemas": SchemasConfig,
    "processing": ProcessingConfig,
    "metrics": MetricsConfig,
    "log": LogConfig,
}
_WINDOWS: Mapping[str, type[Any]] = WINDOW_KINDS
_RULES: Mapping[str, type[Any]] = RULE_KINDS
_SINKS: Mapping[str, type[Any]] = SINK_KINDS
_LISTS = ("sinks",)
"""Top-level keys that hold a list of ``kind:`` items, not a section of keys."""
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def load_config(path: str | os.PathLike[str] | None, env: Mapping[str, str] = os.environ) -> Config:
    """Read ``path`` (YAML; ``None`` for defaults only), apply ``env``, validate, return."""
    raw = _read_yaml(Path(path)) if path is not None else {}
    _apply_env(raw, env)
    return build_config(raw)


def build_config(raw: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from plain data shaped like the YAML file."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"<root>: expected a mapping of sections, got {_kind(raw)}")
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "sinks":
            sections["sinks"] = _sinks("sinks", [] if value is None else value)
            continue
        cls = _SECTIONS.get(str(name))
        if cls is None:
            known = ", ".join([*_SECTIONS, *_LISTS])
            raise ConfigError(f"{name}: unknown section (known: {known})")
        body = {} if value is None else value
        if not isinstance(body, Mapping):
            raise ConfigError(f"{name}: expected a mapping, got {_kind(body)}")
        sections[str(name)] = _build_section(str(name), cls, dict(body))
    return Config(**sections)


# -- reading ---------------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {_kind(data)}")
    return data


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue  # e.g. TELEMETRY_KAFKA_PORT belongs to the local broker script
        parts = name[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR)
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{name}: expected TELEMETRY_<SECTION>__<KEY>")
        section, key = parts
        if section in _LISTS:
            raise ConfigError(f"{name}: {section} is a list of items; set it in the config file")
        cls = _SECTIONS.get(section)
        if cls is None:
            raise ConfigError(f"{name}: unknown section {section!r}")
        field_types = _field_types(cls)
        target = key.removesuffix(SECRET_SUFFIX) if key.endswith(SECRET_SUFFIX) else key
        if key not in field_types and not (key != target and target in field_types):
            raise ConfigError(f"{name}: {section}.{key} is not a configuration key")
        current = raw.get(section)
        if current is None:
            current = raw[section] = {}
        if not isinstance(current, dict):
            raise ConfigError(f"{section}: expected a mapping, got {_kind(current)}")
        hint = field_types.get(key, str)
        current[key] = _from_env(name, f"{section}.{key}", env[name], hint)


def _from_env(name: str, path: str, text: str, hint: Any) -> Any:  # noqa: PLR0911  # per type
    """Coerce an environment value to the field's type (structured values as YAML/JSON)."""
    allowed = _unwrap_optional(hint)
    if allowed is not hint and text.strip().lower() in {"", "null", "none", "~"}:
        return None
    base = allowed
    if base is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{path} (from {name}): expected a boolean, got{_shown(path, text)}")
    if base is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ConfigError(
                f"{path} (from {name}): expected an integer, got{_shown(path, text)}"
            ) from None
    if base is float:
        try:
            return float(text.strip())
        except ValueError:
            raise ConfigError(
                f"{path} (from {name}): expected a number, got{_shown(path, text)}"
            ) from None
    if base is str or typing.get_origin(base) is Literal:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        shown = "" if typing.get_origin(base) in {Mapping, dict} else _shown(path, text)
        raise ConfigError(f"{path} (from {name}): not valid YAML/JSON{shown}") from None


# -- building --------------------------------------------------------------------------------


def _build_section(section: str, cls: type[Any], values: dict[str, Any]) -> Any:
    field_types = _field_types(cls)
    _resolve_secrets(section, field_types, values)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{section}.{key}"
        if key not in field_types:
            raise ConfigError(f"{path}: unknown key (known: {', '.join(field_types)})")
        if section == "processing" and key == "windows":
            kwargs[key] = _windows(path, value)
        elif section == "processing" and key == "rules":
            kwargs[key] = _rules(path, value)
        else:
            kwargs[key] = _check(path, value, field_types[key])
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith(f"{section}."):
            key, _, rest = message.partition(" ")
            raise ConfigError(f"{key}: {rest}") from None
        raise ConfigError(f"{section}: {message}") from None


def _resolve_secrets(section: str, field_types: Mapping[str, Any], values: dict[str, Any]) -> None:
    for key in [k for k in values if k.endswith(SECRET_SUFFIX) and k not in field_types]:
        target = key.removesuffix(SECRET_SUFFIX)
        path = f"{section}.{key}"
        if target not in field_types:
            raise ConfigError(f"{path}: unknown key ({section}.{target} does not exist)")
        location = values.pop(key)
        if location is None:
            continue
        if not isinstance(location, str):
            raise ConfigError(f"{path}: expected a file path, got {_kind(location)}")
        if values.get(target) is not None:
            raise ConfigError(f"{path}: {section}.{target} is set too; give one or the other")
        try:
            values[target] = Path(location).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read {location}: {exc.strerror or exc}") from None


def _windows(path: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of windows, got {_kind(value)}")
    return tuple(_tagged(f"{path}[{i}]", item, _WINDOWS, "window") for i, item in enumerate(value))


def _rules(path: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of rules, got {_kind(value)}")
    rules = [_tagged(f"{path}[{i}]", item, _RULES, "rule") for i, item in enumerate(value)]
    names = [rule.name for rule in rules]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(f"{path}[{index}].name: duplicate rule name {name!r}")
    return tuple(rules)


def _sinks(path: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of sinks, got {_kind(value)}")
    return tuple(_tagged(f"{path}[{i}]", item, _SINKS, "sink") for i, item in enumerate(value))


def _tagged(path: str, item: Any, kinds: Mapping[str, type[Any]], what: str) -> Any:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{path}: expected a mapping with a 'kind', got {_kind(item)}")
    values = dict(item)
    kind = values.pop("kind", None)
    if kind is None:
        raise ConfigError(f"{path}.kind: missing (one of: {', '.join(kinds)})")
    cls = kinds.get(str(kind))
    if cls is None:
        raise ConfigError(f"{path}.kind: unknown {what} kind {kind!r} (one of: {', '.join(kinds)})")
    field_types = _field_types(cls)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in field_types:
            raise ConfigError(
                f"{path}.{key}: unknown key for a {kind} {what} "
                f"(known: kind, {', '.join(field_types)})"
            )
        kwargs[key] = _check(f"{path}.{key}", value, field_types[key])
    for key in required:
        if key not in kwargs:
            raise ConfigError(f"{path}.{key}: missing (required for a {kind} {what})")
    _precheck(path, cls, kwargs)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _precheck(path: str, cls: type[Any], kwargs: Mapping[str, Any]) -> None:
    """The model's checks again, worded with the key path the user has to fix (a kind's own
    checks name their key in the model's message, which gets the item's path in front)."""
    for key in ("size_ms", "advance_ms", "gap_ms", "span_ms", "after_ms", "every_ms"):
        if key in kwargs and kwargs[key] <= 0:
            raise ConfigError(f"{path}.{key}: must be > 0 (milliseconds), got {kwargs[key]}")
    if cls is Hopping and kwargs["advance_ms"] > kwargs["size_ms"]:
        raise ConfigError(f"{path}.advance_ms: must be <= size_ms ({kwargs['size_ms']})")
    if "debounce" in kwargs and kwargs["debounce"] < 1:
        raise ConfigError(f"{path}.debounce: must be >= 1, got {kwargs['debounce']}")
    if cls is ThresholdRule:
        direction = kwargs.get("direction", "above")
        raise_at, clear_at = kwargs["raise_at"], kwargs["clear_at"]
        if direction == "above" and clear_at > raise_at:
            raise ConfigError(f"{path}.clear_at: must be <= raise_at ({raise_at:g}) for 'above'")
        if direction == "below" and clear_at < raise_at:
            raise ConfigError(f"{path}.clear_at: must be >= raise_at ({raise_at:g}) for 'below'")
    if cls is RateOfChangeRule and kwargs["limit_per_s"] < 0:
        raise ConfigError(f"{path}.limit_per_s: must be >= 0, got {kwargs['limit_per_s']}")


# -- type checks -----------------------------------------------------------------------------


def _check(path: str, value: Any, hint: Any) -> Any:  # noqa: PLR0911, PLR0912  # one case per type
    allowed = _unwrap_optional(hint)
    if value is None:
        if allowed is not hint:
            return None
        raise ConfigError(f"{path}: must not be null")
    origin = typing.get_origin(allowed)
    if origin is Literal:
        choices = typing.get_args(allowed)
        if value not in choices:
            names = ", ".join(map(str, choices))
            raise ConfigError(f"{path}: must be one of {names}; got{_shown(path, value)}")
        return value
    if allowed is bool:
        if not isinstance(value, bool):
            raise ConfigError(
                f"{path}: expected true or false, got {_kind(value)}{_shown(path, value)}"
            )
        return value
    if allowed is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{path}: expected an integer, got {_kind(value)}{_shown(path, value)}"
            )
        return value
    if allowed is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {_kind(value)}{_shown(path, value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: must be finite, got{_shown(path, value)}")
        return float(value)
    if allowed is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {_kind(value)}{_shown(path, value)}")
        return value
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {_kind(value)}")
        out: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, (Mapping, list)) or item is None:
                raise ConfigError(f"{path}.{key}: expected a scalar, got {_kind(item)}")
            out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
        return out
    raise ConfigError(f"{path}: unsupported value{_shown(path, value)}")  # pragma: no cover


def _shown(path: str, value: Any) -> str:
    """`` <value>`` for an error message; nothing for a secret (or a mapping that may hold one:
    only its key is named), so that no error or log line ever carries a password."""
    return "" if path in _secret_paths() else f" {value!r}"


@functools.cache
def _secret_paths() -> frozenset[str]:
    """``section.key`` of every field kept out of the repr (passwords)."""
    return frozenset(
        f"{section}.{f.name}"
        for section, cls in _SECTIONS.items()
        for f in dataclasses.fields(cls)
        if not f.repr
    )


def _unwrap_optional(hint: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if typing.get_origin(hint) in {typing.Union, types.UnionType}:
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return hint


def _field_types(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _kind(value: Any) -> str:  # noqa: PLR0911  # one word per type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
