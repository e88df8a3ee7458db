"""telemetry.metrics: the inventory is exactly what a processor and its pod register."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from telemetry.app import App
from telemetry.config import Config, ProcessingConfig
from telemetry.metrics import INVENTORY, KafkaMetrics, PodMetrics
from telemetry.pod import PodView, WorkerEndpoint
from telemetry.sinks import Webhook


def families(registry: CollectorRegistry) -> set[tuple[str, str]]:
    return {(family.name, family.type) for family in registry.collect()}


def test_the_inventory_is_what_a_processor_and_its_pod_register() -> None:
    processor = CollectorRegistry()
    config = Config(
        processing=ProcessingConfig(guarantee="exactly_once"),
        sinks=(Webhook(url="http://127.0.0.1:9/hook"),),  # its metrics exist with a webhook only
    )
    App(config, registry=processor)
    pod = CollectorRegistry()
    PodMetrics(pod, workers=1)
    view = PodView(lambda: [WorkerEndpoint(0, None)], registry=pod)
    try:
        registered = families(processor) | families(pod)
    finally:
        view.close()
    assert registered == {(spec.name, spec.kind) for spec in INVENTORY}


def test_a_registry_gets_one_set_of_each_bundle_and_no_hidden_cache() -> None:
    registry = CollectorRegistry()
    first = KafkaMetrics(registry)
    assert KafkaMetrics(CollectorRegistry()) is not first
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        KafkaMetrics(registry)  # share the first set instead
