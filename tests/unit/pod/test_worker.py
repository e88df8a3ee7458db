"""A worker's configuration and how the supervisor starts it."""

from __future__ import annotations

import os

from telemetry.config import Config, MetricsConfig, ProcessingConfig
from telemetry.kafka._transactions import transactional_id
from telemetry.pod import as_worker, report_port, worker_command


def test_static_members_get_distinct_ids_stable_per_worker() -> None:
    config = Config(
        processing=ProcessingConfig(group_id="g", instance_id="pod-a", workers=3),
        metrics=MetricsConfig(host="0.0.0.0", port=9100),  # noqa: S104  # as in a container
    )
    workers = [as_worker(config, index) for index in range(3)]
    ids = [w.processing.instance_id for w in workers]
    assert ids == ["pod-a-0", "pod-a-1", "pod-a-2"]
    assert as_worker(config, 1).processing.instance_id == "pod-a-1"  # the same after a restart
    # exactly-once: the transactional.id derives from the instance id, so it is per worker too.
    transactional = {transactional_id("g", i) for i in ids}
    assert transactional == {"g-pod-a-0", "g-pod-a-1", "g-pod-a-2"}
    for worker in workers:
        assert worker.processing.workers == 1
        assert worker.metrics == MetricsConfig(host="127.0.0.1", port=0)
        assert worker.processing.group_id == "g"


def test_without_static_membership_workers_stay_dynamic_members() -> None:
    assert as_worker(Config(), 0).processing.instance_id is None


def test_the_worker_command_names_its_index_and_report_pipe() -> None:
    argv = worker_command("/etc/telemetry/config.yaml", connect_timeout=10.0)(2, 7)
    assert argv[1:] == [
        "-m",
        "telemetry",
        "run",
        "--config",
        "/etc/telemetry/config.yaml",
        "--connect-timeout",
        "10",
        "--worker",
        "2",
        "--report-fd",
        "7",
    ]


def test_the_port_is_reported_as_one_line() -> None:
    read, write = os.pipe()
    report_port(write, 43210)
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"43210\n"
