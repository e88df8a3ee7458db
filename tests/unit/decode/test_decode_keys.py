"""Readings whose Kafka key is not their device id: counted, then re-keyed or dead-lettered."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from telemetry.codec import Encoder, LocalSchemaSource, ReadingDecoder
from telemetry.decode import Decode, ReadingEvent
from telemetry.decode._stage import HEADER_REKEYED_FROM
from telemetry.kafka import Output, PartitionOffsets, Record

TS = 1_700_000_000_000


class FakeMessage:
    """What the decode stage reads of a consumed message."""

    def __init__(self, key: bytes | None, value: bytes) -> None:
        self._key, self._value = key, value

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None


def records(keys: list[bytes | None]) -> list[Record]:
    encoder = Encoder(LocalSchemaSource().schema_ids)
    tracker = PartitionOffsets("readings", 3)
    out = []
    for offset, key in enumerate(keys):
        reading: dict[str, Any] = {
            "device_id": "dev-1",
            "sensor": "temp",
            "ts": TS,
            "value": 1.0,
            "seq": offset,
        }
        message: Any = FakeMessage(key, encoder.encode(2, reading))
        out.append(Record(message, tracker, offset))
    return out


def decode(mode: str, registry: CollectorRegistry) -> Decode:
    return Decode(
        name="decode",
        decoder=ReadingDecoder(LocalSchemaSource()),
        dead_letter_topic="dlq",
        registry=registry,
        key_mismatch=mode,  # type: ignore[arg-type]
    )


def test_a_misplaced_reading_is_counted_and_sent_back_keyed_by_its_device() -> None:
    registry = CollectorRegistry()
    out = decode("rekey", registry).process(records([b"dev-1", b"other", None]))
    assert isinstance(out[0], ReadingEvent)
    for rekeyed, offset in ((out[1], 1), (out[2], 2)):
        assert isinstance(rekeyed, Output)
        assert (rekeyed.topic, rekeyed.key, rekeyed.offset) == ("readings", b"dev-1", offset)
        assert (HEADER_REKEYED_FROM, f"3@{offset}".encode()) in (rekeyed.headers or [])
    counted = registry.get_sample_value(
        "telemetry_key_mismatch_readings_total", {"action": "rekey"}
    )
    assert counted == 2


def test_a_misplaced_reading_can_be_dead_lettered_instead() -> None:
    registry = CollectorRegistry()
    out = decode("deadletter", registry).process(records([b"other"]))
    (letter,) = out
    assert isinstance(letter, Output)
    assert letter.topic == "dlq"
    headers = dict(letter.headers or [])
    assert headers["telemetry.error.reason"] == b"key_mismatch"
    assert (
        registry.get_sample_value("telemetry_deadletter_records_total", {"reason": "key_mismatch"})
        == 1
    )
