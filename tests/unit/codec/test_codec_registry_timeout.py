"""A schema registry that accepts connections and never answers must not hold the poll loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from telemetry.codec import RegistrySchemaSource
from telemetry.config import SchemasConfig
from telemetry.errors import SchemaSourceError


@pytest.fixture
def hanging_registry() -> Iterator[str]:
    """An HTTP port on 127.0.0.1 that accepts and reads, and never replies."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_a_hanging_registry_fails_the_lookup_within_its_timeouts(hanging_registry: str) -> None:
    schemas = SchemasConfig(
        registry_url=hanging_registry, registry_timeout_s=0.3, registry_retries=1
    )
    source = RegistrySchemaSource(SchemaRegistryClient(schemas.registry_client_config()))
    started = time.monotonic()
    with pytest.raises(SchemaSourceError, match="schema registry failed"):
        source.lookup(7)
    assert time.monotonic() - started < 5.0  # (retries + 1) x timeout, plus the back-off


def test_basic_auth_and_a_ca_go_to_the_client() -> None:
    schemas = SchemasConfig(
        registry_url="https://registry:8081",
        registry_username="svc",
        registry_password="pw",  # noqa: S106 - a test's secret
        registry_ca_location="/run/secrets/ca.pem",
    )
    config = schemas.registry_client_config()
    assert config["basic.auth.user.info"] == "svc:pw"
    assert config["ssl.ca.location"] == "/run/secrets/ca.pem"
    assert "pw" not in repr(schemas).replace("registry_password", "")
