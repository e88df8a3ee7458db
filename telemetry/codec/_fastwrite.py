"""A writer generated per schema for flat records: the outputs' encoder on the hot path.

fastavro's ``schemaless_writer`` costs about 7 us per rollup (a file object, the schema walk, a
copy of the record). Rollups, alerts and readings are flat records of strings, longs, doubles,
enums and nullable primitives, and most of their values repeat: every rollup of a window has
the same start, end and size, and a device's id and sensor come back in every window. The
generated writer joins cached encodings of those and packs runs of doubles in one call.

It only takes values of exactly the expected Python types (``int`` for a long, ``str`` for a
string, ``float`` for a double or float, a symbol for an enum) and raises on anything else:
the encoder then asks fastavro, which decides how such a record is written or fails, so the
bytes never depend on which writer ran.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

FastWriter = Callable[[Mapping[str, Any]], bytes]
"""``write(record) -> framed bytes``; raises on any value it does not take as is."""

_CACHE_LIMIT = 100_000  # entries per cache; cleared when full (a window's values repeat)
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1
_SIMPLE = frozenset(("string", "long", "double", "float", "boolean"))  # no 32-bit int
_FORMAT = {"double": "d", "float": "f"}


class _Unsupported(Exception):  # noqa: N818 -- internal signal, never escapes
    """The schema has a part the generated writer does not handle."""


def long_bytes(n: int) -> bytes:
    """``n`` as an Avro long: zigzag, then little-endian groups of 7 bits."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise OverflowError(f"{n} does not fit an Avro long")
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def fast_writer(header: bytes, schema: Mapping[str, Any]) -> FastWriter | None:
    """A writer of ``header`` plus the Avro body of a record of ``schema``, or None when a
    field is not a primitive, an enum or a union of null and one of those."""
    if schema.get("type") != "record":
        return None
    namespace: dict[str, Any] = {"_header": header}
    body: list[str] = []
    parts: list[str] = []
    pending: list[tuple[str, str]] = []  # a run of doubles/floats: packed in one call
    try:
        for index, field in enumerate(schema["fields"]):
            kind = _kind(field["type"])
            name = field["name"]
            var = f"x{index}"
            body.append(f"    {var} = r[{name!r}]")
            nullable, primitive, symbols = kind
            if nullable is None and primitive in _FORMAT:
                body.append(f"    if type({var}) is not float: raise TypeError")
                pending.append((var, _FORMAT[primitive]))
                continue
            parts += _flush(pending, namespace)
            parts.append(_field(var, index, nullable, primitive, symbols, body, namespace))
        parts += _flush(pending, namespace)
    except _Unsupported:
        return None
    lines = ["def write(r):", *body, f"    return b''.join((_header, {', '.join(parts)}))"]
    namespace.update(_long=long_bytes, _limit=_CACHE_LIMIT)
    exec("\n".join(lines), namespace)  # noqa: S102 -- generated from field indices and literals
    write: FastWriter = namespace["write"]
    return write


def _kind(schema: Any) -> tuple[int | None, str, tuple[str, ...]]:
    """``(position of null in a union or None, primitive or "enum", enum symbols)``."""
    if isinstance(schema, list):
        if len(schema) != 2 or "null" not in schema:
            raise _Unsupported
        null_at = schema.index("null")
        _, primitive, symbols = _kind(schema[1 - null_at])
        return null_at, primitive, symbols
    if isinstance(schema, dict):
        if schema.get("type") == "enum":
            return None, "enum", tuple(schema["symbols"])
        schema = schema.get("type")  # a primitive with a logical type writes as the primitive
    if isinstance(schema, str) and schema in _SIMPLE:
        return None, schema, ()
    raise _Unsupported


def _flush(pending: list[tuple[str, str]], namespace: dict[str, Any]) -> list[str]:
    if not pending:
        return []
    fmt = "<" + "".join(code for _, code in pending)
    packer = f"_pack{len(namespace)}"
    namespace[packer] = struct.Struct(fmt).pack
    call = f"{packer}({', '.join(var for var, _ in pending)})"
    pending.clear()
    return [call]


def _field(  # noqa: PLR0917 -- one generator step, all positional
    var: str,
    index: int,
    nullable: int | None,
    primitive: str,
    symbols: tuple[str, ...],
    body: list[str],
    namespace: dict[str, Any],
) -> str:
    """Lines computing ``b<index>``, the bytes of field ``var``; returns that name."""
    out = f"b{index}"
    value_lines = _value(var, out, index, primitive, symbols, namespace)
    if nullable is None:
        body.extend("    " + line for line in value_lines)
        return out
    null_byte, some_byte = (b"\x00", b"\x02") if nullable == 0 else (b"\x02", b"\x00")
    body.append(f"    if {var} is None:")
    body.append(f"        {out} = {null_byte!r}")
    body.append("    else:")
    body.extend("        " + line for line in value_lines)
    body.append(f"        {out} = {some_byte!r} + {out}")
    return out


def _value(  # noqa: PLR0917 -- one generator step, all positional
    var: str,
    out: str,
    index: int,
    primitive: str,
    symbols: tuple[str, ...],
    namespace: dict[str, Any],
) -> list[str]:
    if primitive == "enum":
        namespace[f"_enum{index}"] = {
            symbol: long_bytes(position) for position, symbol in enumerate(symbols)
        }
        return [f"{out} = _enum{index}[{var}]"]  # KeyError for a symbol not in the enum
    if primitive == "boolean":
        return [
            f"if type({var}) is not bool: raise TypeError",
            f"{out} = b'\\x01' if {var} else b'\\x00'",
        ]
    if primitive in _FORMAT:
        namespace[f"_pack{index}"] = struct.Struct("<" + _FORMAT[primitive]).pack
        return [f"if type({var}) is not float: raise TypeError", f"{out} = _pack{index}({var})"]
    # strings and longs: cached, since the same ids, window bounds and sizes come back
    cache = f"_cache{index}"
    namespace[cache] = {}
    encode = f"_long({var})" if primitive != "string" else "_long(len(e)) + e"
    make = [] if primitive != "string" else [f"    e = {var}.encode()"]
    return [
        f"if type({var}) is not {'str' if primitive == 'string' else 'int'}: raise TypeError",
        f"{out} = {cache}.get({var})",
        f"if {out} is None:",
        *make,
        f"    {out} = {encode}",
        f"    if len({cache}) >= _limit: {cache}.clear()",
        f"    {cache}[{var}] = {out}",
    ]
