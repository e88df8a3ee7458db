"""What every scenario needs: topics, record counts, process statistics, the metrics endpoint."""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

PARTITIONS = 8
HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
_TICKS = os.sysconf("SC_CLK_TCK")


def create_topics(bootstrap: str, *names: str, partitions: int = PARTITIONS) -> None:
    """Create ``names`` with unlimited retention (the workloads' timestamps are old)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = {"retention.ms": "-1", "cleanup.policy": "delete"}
    topics = [
        NewTopic(n, num_partitions=partitions, replication_factor=1, config=config) for n in names
    ]
    for future in admin.create_topics(topics).values():
        future.result(30)


def delete_topics(bootstrap: str, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(list(names)).values():
        future.result(30)


def topic_exists(bootstrap: str, name: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return name in admin.list_topics(timeout=10).topics


def record_count(bootstrap: str, topic: str) -> int:
    """Records held by ``topic`` (sum of high minus low watermarks over its partitions)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(topic, timeout=10).topics[topic]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-count"})
    try:
        total = 0
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class ProcStat:
    """CPU seconds (user + system), current and peak resident set of one process."""

    cpu_s: float
    rss_mb: float
    hwm_mb: float


def proc_stat(pid: int) -> ProcStat:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)
    status = Path(f"/proc/{pid}/status").read_text()
    return ProcStat(cpu, _kb(status, "VmRSS") / 1024, _kb(status, "VmHWM") / 1024)


def tree_stat(pid: int) -> ProcStat:
    """:func:`proc_stat` summed over ``pid`` and its live descendants (a pod's workers)."""
    total = proc_stat(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else ():
        try:
            sub = tree_stat(int(child))
        except OSError:  # exited meanwhile
            continue
        total = ProcStat(
            total.cpu_s + sub.cpu_s, total.rss_mb + sub.rss_mb, total.hwm_mb + sub.hwm_mb
        )
    return total


def _kb(status: str, name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def scrape(port: int, timeout: float = 1.0) -> dict[str, float]:
    """The processor's /metrics as ``{'name{labels}': value}`` ({} while it is not up)."""
    try:
        url = f"http://{HOST}:{port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def metric(samples: dict[str, float], name: str, stage: str | None = "source") -> float:
    """Sum of ``name`` samples for ``stage`` (labels beyond the stage are summed over); with
    ``stage=None``, of every sample of ``name`` (the state metrics carry no stage label)."""
    label = None if stage is None else f'stage="{stage}"'
    return sum(
        v
        for k, v in samples.items()
        if k.split("{", 1)[0] == name and (label is None or label in k)
    )
