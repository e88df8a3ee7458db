"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro body."""

from __future__ import annotations

import struct

from telemetry.codec._reasons import Reason
from telemetry.errors import CodecError

MAGIC_BYTE = 0
HEADER = struct.Struct(">BI")
"""Magic byte and schema id; ``HEADER.unpack_from(value)`` is the hot-path parse."""
HEADER_SIZE = HEADER.size


def frame_header(schema_id: int) -> bytes:
    """Return the 5-byte Confluent header for ``schema_id``."""
    if not 0 <= schema_id <= 0xFFFFFFFF:
        raise CodecError("encode_error", f"schema id {schema_id} does not fit in 4 bytes")
    return HEADER.pack(MAGIC_BYTE, schema_id)


def split_header(value: bytes | None) -> tuple[int, memoryview]:
    """Return ``(schema_id, body)`` of a framed value; raise :class:`CodecError` if unframed."""
    if value is None or len(value) < HEADER_SIZE:
        size = "no value" if value is None else f"{len(value)} bytes"
        raise CodecError(Reason.TOO_SHORT, f"{size}; a framed record needs at least 5")
    magic, schema_id = HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise CodecError(Reason.BAD_MAGIC, f"magic byte is {magic:#04x}, expected 0x00")
    return schema_id, memoryview(value)[HEADER_SIZE:]
