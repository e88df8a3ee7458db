"""The webhook sink against a real HTTP server on 127.0.0.1: batching, retries, giving up, stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from telemetry.aggregate._events import Emitted
from telemetry.config import build_config
from telemetry.errors import ConfigError
from telemetry.kafka import Output
from telemetry.sinks import Delivery, Reports, SinkContext, Webhook, WebhookSink
from telemetry.sinks._webhook import item_id
from tests.support.webhook import WebhookEndpoint

Serve = Callable[..., WebhookEndpoint]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(*answers, delay=s)``: an endpoint answering ``answers`` (status, headers) in
    turn, then 200, each after ``delay`` seconds."""
    made: list[WebhookEndpoint] = []

    def start(*answers: tuple[int, dict[str, str]], delay: float = 0.0) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(
            lambda n: (*(answers[n - 1] if n <= len(answers) else (200, {})), delay),
            path="/hook?team=ops",
        )
        made.append(endpoint)
        return endpoint

    yield start
    for endpoint in made:
        endpoint.close()


def sink(url: str, **settings: Any) -> WebhookSink:
    config = Webhook(url=url, **{"backoff_s": 0.01, **settings})
    return config.build(SinkContext(CollectorRegistry()))


def deliveries(reports: Reports, n: int, kind: str = "alert") -> list[Delivery]:
    made = []
    for i in range(n):
        out = Output("alerts", b"avro", f"dev-{i}")
        out.emitted = Emitted(kind, 0, i, {"device_id": f"dev-{i}", "value": i * 1.5})  # type: ignore[arg-type]
        made.append(Delivery(out, reports))
    return made


def settle(reports: Reports, n: int, timeout: float = 10.0) -> list[BaseException | None]:
    """The first ``n`` reports (ack: ``None``), in arrival order."""
    got: list[BaseException | None] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        reports.wait(0.05)
        got += [error for _, error in reports.take()]
    assert len(got) == n, f"{len(got)} of {n} reports"
    return got


def deliver(webhook: WebhookSink, n: int) -> list[BaseException | None]:
    """Start the sink, send it ``n`` alerts, return their reports once all came, stop it."""
    reports = Reports()
    webhook.start()
    try:
        webhook.send(deliveries(reports, n))
        return settle(reports, n)
    finally:
        webhook.stop(5)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_posts_batches_of_json_and_acks_every_output(serve: Serve) -> None:
    endpoint = serve()
    webhook = sink(endpoint.url, batch_size=4, headers={"Authorization": "Bearer s3cret"})
    assert deliver(webhook, 10) == [None] * 10
    items = endpoint.items
    assert [item["key"] for item in items] == [f"dev-{i}" for i in range(10)]
    assert all(len(body) <= 4 for body in endpoint.bodies)
    assert items[3] == {
        "id": item_id("alert", {"device_id": "dev-3", "value": 4.5}),
        "kind": "alert",
        "key": "dev-3",
        "record": {"device_id": "dev-3", "value": 4.5},
    }
    assert endpoint.headers[0]["Authorization"] == "Bearer s3cret"
    assert endpoint.headers[0]["Content-Type"] == "application/json"
    assert webhook.metrics.sent._value.get() == 10
    assert webhook.metrics.queued._value.get() == 0


def test_server_errors_and_throttling_are_retried_until_delivered(serve: Serve) -> None:
    endpoint = serve((503, {}), (429, {"Retry-After": "0.2"}), (500, {}))
    webhook = sink(endpoint.url, max_retries=3)
    started = time.monotonic()
    assert deliver(webhook, 3) == [None] * 3
    assert time.monotonic() - started >= 0.2  # Retry-After was waited for
    assert len(endpoint.headers) == 4
    assert [item["key"] for item in endpoint.bodies[0]] == ["dev-0", "dev-1", "dev-2"]
    assert webhook.metrics.retries._value.get() == 3


def test_retries_exhausted_fail_the_outputs(serve: Serve) -> None:
    endpoint = serve(*[(502, {})] * 3)
    webhook = sink(endpoint.url, max_retries=2)
    errors = deliver(webhook, 2)
    assert all(isinstance(error, ConnectionError) for error in errors)
    assert "gave up after 3 attempts: answered 502" in str(errors[0])
    assert webhook.metrics.failures._value.get() == 2


def test_a_rejection_is_not_retried(serve: Serve) -> None:
    endpoint = serve((400, {}))
    webhook = sink(endpoint.url, max_retries=5)
    (error,) = deliver(webhook, 1)
    assert error is not None
    assert "answered 400" in str(error)
    assert len(endpoint.headers) == 1


def test_an_unreachable_endpoint_is_retried_then_failed() -> None:
    webhook = sink("http://127.0.0.1:9/never", max_retries=2, timeout_s=0.5)
    (error,) = deliver(webhook, 1)
    assert "gave up after 3 attempts: request failed" in str(error)


def test_stop_gives_up_at_its_deadline_and_leaves_the_rest_unacknowledged(
    serve: Serve,
) -> None:
    endpoint = serve(*[(503, {})] * 100)
    webhook = sink(endpoint.url, max_retries=100, backoff_s=5.0)
    reports = Reports()
    webhook.start()
    webhook.send(deliveries(reports, 5))
    wait_for(lambda: len(endpoint.headers) == 1)  # first attempt failed, backing off 5 s
    started = time.monotonic()
    webhook.stop(0.3)
    assert time.monotonic() - started < 2.0
    assert reports.take() == []  # neither acked nor failed: their inputs stay uncommitted


def test_stop_delivers_what_is_queued_within_its_budget(serve: Serve) -> None:
    endpoint = serve(delay=0.05)
    webhook = sink(endpoint.url, batch_size=2)
    reports = Reports()
    webhook.start()
    webhook.send(deliveries(reports, 6))
    webhook.stop(5)
    assert [error for _, error in reports.take()] == [None] * 6


def test_the_id_follows_the_content_only() -> None:
    a = item_id("alert", {"device_id": "d", "value": 1.0, "state": "RAISED"})
    assert a == item_id("alert", {"state": "RAISED", "value": 1.0, "device_id": "d"})
    assert a != item_id("rollup", {"device_id": "d", "value": 1.0, "state": "RAISED"})
    assert a != item_id("alert", {"device_id": "d", "value": 1.5, "state": "RAISED"})


def test_outputs_select_the_kinds() -> None:
    assert list(sink("http://h/").kinds) == ["alert"]
    assert sorted(sink("http://h/", outputs="all").kinds) == ["alert", "rollup"]
    assert sink("http://h/", queue_size=7, batch_size=7).capacity == 7


def test_two_webhooks_share_one_registry() -> None:
    context = SinkContext(CollectorRegistry())
    first = Webhook(url="http://h/a", name="a").build(context)
    second = Webhook(url="http://h/b", name="b").build(context)
    first.metrics.sent.inc()
    assert context.registry.get_sample_value("telemetry_webhook_sent_total", {"sink": "a"}) == 1
    assert context.registry.get_sample_value("telemetry_webhook_sent_total", {"sink": "b"}) == 0
    assert second.name == "b"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"url": "ftp://h/x"}, "sinks[0]: url: expected an http:// or https:// URL"),
        ({}, "sinks[0].url: missing (required for a webhook sink)"),
        ({"url": "http://h/", "retries": 3}, "sinks[0].retries: unknown key for a webhook sink"),
        ({"url": "http://h/", "timeout_s": 0}, "sinks[0]: timeout_s: must be > 0"),
        (
            {"url": "http://h/", "batch_size": 10, "queue_size": 5},
            "batch_size: must be in 1..queue_size (5)",
        ),
        ({"url": "http://h/", "outputs": "errors"}, "sinks[0].outputs: must be one of alerts"),
        ({"url": "http://h/", "headers": {"X": [1]}}, "sinks[0].headers.X: expected a scalar"),
        ({"url": "http://h/", "name": "sink"}, "sinks[0].name: 'sink' names a built-in stage"),
    ],
)
def test_configuration_errors_name_the_key(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"sinks": [{"kind": "webhook", **item}]})
    assert message in str(caught.value)


def test_the_sinks_list_builds_webhooks() -> None:
    config = build_config(
        {
            "sinks": [
                {"kind": "webhook", "url": "https://ops.example/alerts"},
                {"kind": "webhook", "name": "audit", "url": "http://h/", "outputs": "all"},
            ]
        }
    )
    assert [sink.name for sink in config.sinks] == ["webhook", "audit"]
    assert config.sinks[1] == Webhook(name="audit", url="http://h/", outputs="all")
    with pytest.raises(ConfigError, match=r"sinks\[1\].name: duplicate sink name 'webhook'"):
        build_config({"sinks": [{"kind": "webhook", "url": "http://h/"}] * 2})
    with pytest.raises(ConfigError, match="sinks: expected a list of sinks"):
        build_config({"sinks": {"kind": "webhook"}})
    with pytest.raises(ConfigError, match=r"sinks\[0\].kind: unknown sink kind 'mqtt'"):
        build_config({"sinks": [{"kind": "mqtt"}]})


def test_headers_stay_out_of_the_repr() -> None:
    assert "s3cret" not in repr(Webhook(url="http://h/", headers={"Authorization": "s3cret"}))
