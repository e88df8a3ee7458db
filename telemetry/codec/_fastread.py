"""A reader generated per writer schema for flat records of primitive fields.

fastavro's ``schemaless_reader`` spends about 4 us per reading, most of it per call (a file
object, option handling, the schema walk). A reading is a flat record of strings, longs and
doubles: straight-line Python over the bytes, generated once per writer schema, reads it in
about half that. Anything the generated reader does not accept (a nested type, a malformed
body) falls back to fastavro, which then decides how the record fails, so a record's fate never
depends on which reader ran.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from telemetry.codec._framing import HEADER_SIZE

FastReader = Callable[[bytes], tuple[dict[str, Any], int]]
"""``read(value) -> (record, end)``: reads after the Confluent header; raises on anything it does
not accept."""

_PRIMITIVES = frozenset(("string", "bytes", "long", "int", "double", "float", "boolean"))
_IMMUTABLE = (type(None), bool, int, float, str, bytes)
_MAX_VARINT_BYTES = 10  # a long is at most 10 bytes: 9 groups of 7 bits before the last


def fast_reader(
    fields: list[dict[str, Any]], skip: frozenset[str], defaults: Mapping[str, Any]
) -> FastReader | None:
    """A reader for a record of ``fields`` (the writer's, in order), or None if one is not a
    primitive or a union of null and a primitive. ``skip``: fields read but left out of the
    record; ``defaults``: added to every record (immutable values only, else None)."""
    kinds = [_kind(field.get("type")) for field in fields]
    if any(kind is None for kind in kinds) or not all(
        isinstance(value, _IMMUTABLE) for value in defaults.values()
    ):
        return None
    lines = ["def read(v):", f"    pos = {HEADER_SIZE}", "    size = len(v)"]
    items: list[str] = []
    for index, (field, kind) in enumerate(zip(fields, kinds, strict=True)):
        assert kind is not None  # noqa: S101 -- checked above, for mypy
        target = f"f{index}"
        nullable, primitive = kind
        indent = "    "
        if nullable is not None:
            # The union's branch: zigzag 0 or 1 in one byte, null on the side ``nullable`` says.
            lines += [
                "    c = v[pos]",
                "    pos += 1",
                f"    if c == {0 if nullable == 0 else 2}:",
                f"        {target} = None",
                f"    elif c == {2 if nullable == 0 else 0}:",
            ]
            indent = "        "
        lines += [indent + line for line in _read(primitive, target)]
        if nullable is not None:
            lines += ["    else:", "        raise ValueError('union branch')"]
        if field["name"] not in skip:
            items.append(f"{field['name']!r}: {target}")
    items += [f"{name!r}: {value!r}" for name, value in defaults.items()]
    lines.append(f"    return {{{', '.join(items)}}}, pos")
    namespace: dict[str, Any] = {
        "_double": struct.Struct("<d").unpack_from,
        "_float": struct.Struct("<f").unpack_from,
    }
    exec("\n".join(lines), namespace)  # noqa: S102 -- generated from field indices and literals
    read: FastReader = namespace["read"]
    return read


def _kind(schema: Any) -> tuple[int | None, str] | None:
    """``(position of null in the union or None, primitive)``, or None if not supported."""
    if isinstance(schema, dict):
        schema = schema.get("type")  # a primitive with a logical type reads as the primitive
    if isinstance(schema, str):
        return (None, schema) if schema in _PRIMITIVES else None
    if isinstance(schema, list) and len(schema) == 2 and "null" in schema:
        null_at = schema.index("null")
        other = _kind(schema[1 - null_at])
        if other is not None and other[0] is None:
            return null_at, other[1]
    return None


def _varint(target: str) -> list[str]:
    """A zigzag varint into ``target``, unrolled: one byte is the fast case (short strings,
    small ints), and a timestamp's six bytes cost no loop counter or shift bookkeeping."""
    lines = ["c = v[pos]", "if c < 128:", f"    {target} = (c >> 1) ^ -(c & 1)", "    pos += 1"]
    lines += ["else:", "    x = c & 127"]
    indent = "    "
    for k in range(1, _MAX_VARINT_BYTES):
        shift = 7 * k
        lines += [
            f"{indent}c = v[pos + {k}]",
            f"{indent}if c < 128:",
            f"{indent}    x |= c << {shift}",
            f"{indent}    pos += {k + 1}",
        ]
        if k == _MAX_VARINT_BYTES - 1:
            lines += [f"{indent}else:", f"{indent}    raise ValueError('varint too long')"]
        else:
            lines += [f"{indent}else:", f"{indent}    x |= (c & 127) << {shift}"]
        indent += "    "
    return [
        *lines,
        "    if x >> 64:",  # past 64 bits fastavro's C long decides (it wraps or fails)
        "        raise ValueError('varint too large')",
        f"    {target} = (x >> 1) ^ -(x & 1)",
    ]


def _read(primitive: str, target: str) -> list[str]:
    if primitive in {"long", "int"}:
        return _varint(target)
    if primitive == "double":
        return [f"({target},) = _double(v, pos)", "pos += 8"]
    if primitive == "float":
        return [f"({target},) = _float(v, pos)", "pos += 4"]
    if primitive == "boolean":
        return [
            "c = v[pos]",
            "pos += 1",
            "if c > 1:",
            "    raise ValueError('boolean byte')",
            f"{target} = c == 1",
        ]
    # string or bytes: a length, then that many bytes (a short slice means truncated)
    decode = ".decode()" if primitive == "string" else ""
    return [
        *_varint("n"),
        "end = pos + n",
        "if n < 0 or end > size:",
        "    raise ValueError('length')",
        f"{target} = v[pos:end]{decode}",
        "pos = end",
    ]
