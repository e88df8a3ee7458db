"""Reading a worker's endpoints, and merging the workers' expositions into the pod's.

Every worker is a complete single-process member with its own registry, some of whose metrics
are collectors fed by librdkafka's statistics (prometheus_client's multiprocess mode shares
none of those), served on 127.0.0.1. The pod reads each one in the OpenMetrics format, whose
parser gives back the families exactly as the worker's registry holds them (counters with
their ``_total`` and ``_created`` samples, info, histograms), and re-exposes them with a
``worker`` label, in whichever format the scraper asked the pod for.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Mapping

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from telemetry.metrics import WORKER_LABEL  # the worker's index, "0" .. "N-1"

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
LOOPBACK = "127.0.0.1"


def get(port: int, path: str, timeout: float, accept: str = "*/*") -> tuple[int, bytes] | None:
    """Status and body of ``GET path`` on a worker's port; None if it does not answer.

    http.client rather than urllib: a worker is always on the loopback, and urllib would send
    the request to an ``http_proxy`` from the environment."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": accept})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):  # refused, reset, timed out, garbled
        return None
    finally:
        connection.close()


def probe(port: int, path: str, timeout: float) -> bool:
    """The worker answers ``path`` (``/healthz``, ``/readyz``) with 200 within ``timeout``."""
    answer = get(port, path, timeout)
    return answer is not None and answer[0] == 200


def scrape(port: int, timeout: float) -> list[Metric] | None:
    """The worker's metric families; None if it does not answer or answers garbage."""
    answer = get(port, "/metrics", timeout, accept=OPENMETRICS)
    if answer is None or answer[0] != 200:
        return None
    try:
        # prometheus_client's OpenMetrics parser ships without annotations.
        families: list[Metric] = list(
            text_string_to_metric_families(answer[1].decode())  # type: ignore[no-untyped-call]
        )
    except (ValueError, UnicodeDecodeError):  # e.g. cut short: no "# EOF"
        return None
    return families


def merge(by_worker: Mapping[int, Iterable[Metric]]) -> list[Metric]:
    """One family per name (one HELP and TYPE), holding every worker's samples, each labelled
    with its worker's index."""
    merged: dict[str, Metric] = {}
    for worker in sorted(by_worker):
        value = str(worker)
        for family in by_worker[worker]:
            target = merged.get(family.name)
            if target is None:
                target = Metric(family.name, family.documentation, family.type, family.unit)
                merged[family.name] = target
            target.samples.extend(
                sample._replace(labels={**sample.labels, WORKER_LABEL: value})
                for sample in family.samples
            )
    return list(merged.values())
