"""The chart, rendered by the real ``helm`` for its defaults and every ``ci/*-values.yaml``."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml

from telemetry.config import Config, load_config
from telemetry.stages import StopBudget
from tests.chart._tools import CHART, run, run_ok
from tests.chart.conftest import (
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Manifest,
    Render,
    by_kind,
    one,
    values_args,
    values_of,
)

FULLNAME = f"{RELEASE}-telemetry"
POD_NAME = f"{FULLNAME}-6d8f9c7b5-x2k4q"
"""What the downward API's ``metadata.name`` resolves to in these tests."""
INSTANCE_ID_ENV = "TELEMETRY_PROCESSING__INSTANCE_ID"
STATIC_MEMBERSHIP = ("--set", "staticMembership.enabled=true")
SELECTOR = {"app.kubernetes.io/name": "telemetry", "app.kubernetes.io/instance": RELEASE}
CRDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
KAFKA_TLS_DIR = "/etc/telemetry/tls/kafka"
REGISTRY_SECRET_DIR = "/etc/telemetry/secrets/registry"  # noqa: S105  # a mount path
REGISTRY_TLS_DIR = "/etc/telemetry/tls/registry"
KAFKA_TLS_ENV = {
    "TELEMETRY_KAFKA__SSL_CA_LOCATION",
    "TELEMETRY_KAFKA__SSL_CERTIFICATE_LOCATION",
    "TELEMETRY_KAFKA__SSL_KEY_LOCATION",
    "TELEMETRY_KAFKA__SSL_KEY_PASSWORD_FILE",
}
REGISTRY_ENV = {
    "TELEMETRY_SCHEMAS__REGISTRY_USERNAME",
    "TELEMETRY_SCHEMAS__REGISTRY_PASSWORD_FILE",
    "TELEMETRY_SCHEMAS__REGISTRY_CA_LOCATION",
}
SECRET_VALUES_IN_CONFIG = {
    "kafka.sasl_password": "kafka.sasl.existingSecret",
    "kafka.ssl_key_password": "kafka.tls.keyPasswordKey",
    "schemas.registry_password": "schemaRegistry.existingSecret",
}
"""A secret set directly in ``config`` -> the Secret-based value the refusal points to."""
KAFKA_TLS = (
    "--set",
    "kafka.tls.existingSecret=kafka-tls",
    "--set",
    "config.kafka.security_protocol=SSL",
)
NETWORK_POLICY = (
    "--set",
    "networkPolicy.enabled=true",
    "--set",
    "networkPolicy.egress[0].ports[0].port=9092",
)
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]

EXPECTED_KINDS = {
    "default": {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    },
    "minimal": {"ConfigMap", "Deployment", "Service", "ServiceAccount"},
    "monitoring": {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    },
    "keda": {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "ServiceAccount",
    },
    "sasl": {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "TriggerAuthentication",
    },
    "tls": {
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    },
}


def expected_workers(values: dict[str, Any]) -> int:
    """What the chart's ``workers`` means: the integer, or for ``auto`` the CPU request in
    whole cores (rounded down), at least 1, at most the partition count."""
    if values["workers"] != "auto":
        return int(values["workers"])
    cpu = str(((values.get("resources") or {}).get("requests") or {}).get("cpu", "0"))
    millis = int(cpu.removesuffix("m")) if cpu.endswith("m") else int(float(cpu) * 1000)
    partitions = int(values["config"]["topics"]["partitions"])
    return max(1, min(millis // 1000, partitions))


def max_replicas(values: dict[str, Any], wanted: int) -> int:
    """An autoscaler's cap: replicas x workers members at most one per partition."""
    partitions = int(values["config"]["topics"]["partitions"])
    return min(wanted, max(1, partitions // expected_workers(values)))


def container(manifests: list[Manifest]) -> dict[str, Any]:
    containers = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def config_map(manifests: list[Manifest]) -> Manifest:
    found = [
        obj
        for obj in by_kind(manifests, "ConfigMap")
        if obj["metadata"]["name"].endswith("-config")
    ]
    assert len(found) == 1
    return found[0]


def pod_env(main: dict[str, Any]) -> dict[str, str]:
    """The container's env as the process sees it (secrets as ``secret:<name>/<key>``)."""
    env: dict[str, str] = {}
    for var in main.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = f"secret:{ref['name']}/{ref['key']}"
        else:
            assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, var
            env[var["name"]] = POD_NAME
    return env


def pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def secret_volumes(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """The container's Secret volume mounts: mount path -> ``{"mount": ..., "secret": ...}``."""
    volumes = {volume["name"]: volume for volume in pod_spec(manifests)["volumes"]}
    found: dict[str, dict[str, Any]] = {}
    for mount in container(manifests)["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:
            found[mount["mountPath"]] = {"mount": mount, "secret": volume["secret"]}
    return found


def secret_files(manifests: list[Manifest], root: Path) -> dict[str, Path]:
    """The files the pod's Secret volumes hold, written under ``root``: pod path -> that copy.

    Each holds ``secret:<name>/<key>`` and a newline (``--from-file`` keeps the file's), as
    :func:`pod_env` shows a ``secretKeyRef``.
    """
    files: dict[str, Path] = {}
    for mount_path, found in secret_volumes(manifests).items():
        secret = found["secret"]
        assert secret["items"], "only the named keys are projected"
        for item in secret["items"]:
            inside = f"{mount_path}/{item['path']}"
            copy = root / inside.lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(f"secret:{secret['secretName']}/{item['key']}\n")
            files[inside] = copy
    return files


def pod_env_with_files(manifests: list[Manifest], root: Path) -> dict[str, str]:
    """:func:`pod_env`, with the Secret files at hand: every ``*_FILE`` and ``*_LOCATION`` var
    must name a file a Secret volume projects; a ``*_FILE`` (which the loader reads) then names
    that file's copy under ``root``."""
    files = secret_files(manifests, root)
    env = pod_env(container(manifests))
    for name, value in env.items():
        if name.endswith(("_FILE", "_LOCATION")):
            assert value in files, f"{name}={value} is no file of a mounted Secret: {files}"
            if name.endswith("_FILE"):
                env[name] = str(files[value])
    return env


def pod_config(manifests: list[Manifest], tmp_path: Path) -> Config:
    """What ``telemetry run`` loads in the pod: the ConfigMap's file, the env, the Secret files."""
    path = tmp_path / "config.yaml"
    path.write_text(config_map(manifests)["data"]["config.yaml"])
    return load_config(path, env=pod_env_with_files(manifests, tmp_path / "pod"))


def secret_references(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """Every ``(secret, key)`` the objects read: env vars, volumes, KEDA's authentication."""
    refs = {
        (var["valueFrom"]["secretKeyRef"]["name"], var["valueFrom"]["secretKeyRef"]["key"])
        for var in container(manifests).get("env", [])
        if "secretKeyRef" in var.get("valueFrom", {})
    }
    for found in secret_volumes(manifests).values():
        secret = found["secret"]
        refs |= {(secret["secretName"], item["key"]) for item in secret["items"]}
    for auth in by_kind(manifests, "TriggerAuthentication"):
        refs |= {(ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    return refs


def chart_for_notes(source: Path, tmp_path: Path) -> Path:
    """A copy of the chart that renders NOTES.txt as a ConfigMap (``helm template`` omits it)."""
    chart = tmp_path / "telemetry"
    shutil.copytree(source, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}\n'
    )
    return chart


def render_notes(helm: str, chart: Path, *args: str) -> str:
    out = run_ok(
        [
            helm,
            "template",
            RELEASE,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--show-only",
            "templates/notes-check.yaml",
            *args,
        ]
    )
    notes: str = yaml.safe_load(out)["data"]["notes"]
    return notes


def test_every_scenario_is_covered() -> None:
    assert set(SCENARIOS) == set(EXPECTED_KINDS), "add the new ci/*-values.yaml to EXPECTED_KINDS"


def test_renders_the_expected_objects(manifests: list[Manifest], scenario: str) -> None:
    kinds = {obj["kind"] for obj in manifests}
    dashboards = {obj["metadata"]["name"] for obj in by_kind(manifests, "ConfigMap")} - {
        f"{FULLNAME}-config"
    }
    assert kinds - {"ConfigMap"} == EXPECTED_KINDS[scenario] - {"ConfigMap"}
    expect_dashboards = values_of(scenario)["grafanaDashboards"]["enabled"]
    assert dashboards == ({f"{FULLNAME}-dashboard-telemetry"} if expect_dashboards else set())
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in manifests]
    assert len(names) == len(set(names)), "duplicate objects"


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_objects_validate_against_the_kubernetes_schemas(
    manifests: list[Manifest], kube_version: str
) -> None:
    checked = 0
    for obj in manifests:
        if obj["kind"] in CRDS:
            continue  # no schema in kubernetes-validate; their fields are asserted below
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {kube_version}: {error}")
        checked += 1
    assert checked >= 4


def test_every_object_has_the_standard_labels(manifests: list[Manifest], scenario: str) -> None:
    common = values_of(scenario)["commonLabels"]
    for obj in manifests:
        labels = obj["metadata"]["labels"]
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert labels["app.kubernetes.io/name"] == "telemetry", where
        assert labels["app.kubernetes.io/instance"] == RELEASE, where
        assert labels["app.kubernetes.io/version"] == "0.1.0", where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["helm.sh/chart"] == "telemetry-0.1.0", where
        assert common.items() <= labels.items(), where
        assert obj["metadata"]["namespace"] in {NAMESPACE, "monitoring"}, where


def test_selectors_use_only_name_and_instance(manifests: list[Manifest]) -> None:
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["selector"] == {"matchLabels": SELECTOR}
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert SELECTOR.items() <= pod_labels.items()
    assert one(manifests, "Service")["spec"]["selector"] == SELECTOR
    for kind in ("PodDisruptionBudget", "ServiceMonitor"):
        for obj in by_kind(manifests, kind):
            assert obj["spec"]["selector"] == {"matchLabels": SELECTOR}, kind


def test_pod_runs_restricted(manifests: list[Manifest]) -> None:
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["serviceAccountName"] == FULLNAME
    ctx = container(manifests)["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] == 10001
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m["name"] for m in container(manifests)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108  # the pod's mount path


def test_container_runs_the_processor_on_its_config(
    manifests: list[Manifest], scenario: str
) -> None:
    values = values_of(scenario)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    main = container(manifests)
    tag = values["image"]["tag"] or "0.1.0"
    assert main["image"] == f"{values['image']['repository']}:{tag}"
    assert [*main["command"], *main["args"]] == [
        "telemetry",
        "run",
        "--config",
        "/etc/telemetry/config.yaml",
        "--workers",
        str(expected_workers(values)),
    ]
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    config_volume = next(v for v in pod["volumes"] if v["name"] == mounts["/etc/telemetry"]["name"])
    assert config_volume["configMap"]["name"] == f"{FULLNAME}-config"
    assert mounts["/etc/telemetry"]["readOnly"] is True
    assert main["resources"] == values["resources"]
    assert main["resources"]["requests"]
    assert main["resources"]["limits"]["memory"]
    assert pod["terminationGracePeriodSeconds"] == values["terminationGracePeriodSeconds"]
    drain = values["config"]["processing"]["drain_timeout_s"]
    assert pod["terminationGracePeriodSeconds"] >= drain + StopBudget().seconds + 5


def test_probes_use_the_named_metrics_port(manifests: list[Manifest], scenario: str) -> None:
    main = container(manifests)
    port = values_of(scenario)["config"]["metrics"]["port"]
    assert main["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = one(manifests, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_config_map_is_the_config_block_verbatim(manifests: list[Manifest], scenario: str) -> None:
    rendered = yaml.safe_load(config_map(manifests)["data"]["config.yaml"])
    assert rendered == values_of(scenario)["config"]


def test_config_loads_with_the_processor_loader_and_the_rendered_env(
    manifests: list[Manifest], scenario: str, tmp_path: Path
) -> None:
    """The rendered file, env vars and Secret files are what ``telemetry run`` accepts."""
    config = pod_config(manifests, tmp_path)
    chart = values_of(scenario)
    values = chart["config"]
    assert config.metrics.port == container(manifests)["ports"][0]["containerPort"]
    assert config.metrics.host == "0.0.0.0"  # noqa: S104  # the pod must listen on its IP
    assert config.kafka.bootstrap_servers == values["kafka"]["bootstrap_servers"]
    assert config.topics.readings == values["topics"]["readings"]
    assert config.processing.group_id == values["processing"]["group_id"]
    if values_of(scenario)["kafka"]["sasl"]["existingSecret"]:
        assert config.kafka.sasl_username == "secret:telemetry-kafka/username"
        assert config.kafka.sasl_password == "secret:telemetry-kafka/password"  # noqa: S105
    tls = chart["kafka"]["tls"]
    if tls["existingSecret"]:
        # librdkafka gets the paths in the mount; the key's password is read from its file.
        client = config.kafka.client_config()
        assert client["ssl.ca.location"] == f"{KAFKA_TLS_DIR}/{tls['caKey']}"
        assert client["ssl.certificate.location"] == f"{KAFKA_TLS_DIR}/{tls['certKey']}"
        assert client["ssl.key.location"] == f"{KAFKA_TLS_DIR}/{tls['keyKey']}"
        secret = tls["existingSecret"]
        assert client["ssl.key.password"] == f"secret:{secret}/{tls['keyPasswordKey']}"
    else:
        kafka = config.kafka
        assert kafka.ssl_ca_location is kafka.ssl_certificate_location is None
        assert kafka.ssl_key_location is kafka.ssl_key_password is None
    registry = chart["schemaRegistry"]
    assert config.schemas.registry_url == values.get("schemas", {}).get("registry_url")
    if registry["existingSecret"]:
        secret = registry["existingSecret"]
        user, password = f"secret:{secret}/username", f"secret:{secret}/password"
        assert config.schemas.registry_username == user
        assert config.schemas.registry_password == password
        auth = config.schemas.registry_client_config()["basic.auth.user.info"]
        assert auth == f"{user}:{password}"
    else:
        assert config.schemas.registry_username is config.schemas.registry_password is None
    if registry["caSecret"]:
        assert config.schemas.registry_ca_location == f"{REGISTRY_TLS_DIR}/{registry['caKey']}"
    else:
        assert config.schemas.registry_ca_location is None


def test_config_checksum_rolls_pods_on_config_change_only(
    manifests: list[Manifest], scenario: str, render: Render
) -> None:
    cm_text = config_map(manifests)
    annotations = one(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    checksum = annotations["checksum/config"]
    assert re.fullmatch(r"[0-9a-f]{64}", checksum)
    # The checksum is over the rendered ConfigMap; equal for an equal config.
    assert cm_text["data"]
    if scenario != "default":
        return
    changed = render("--set", "config.log.level=DEBUG")
    unrelated = render("--set-string", "podAnnotations.example=1")
    changed_sum = one(changed, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    unrelated_sum = one(unrelated, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert changed_sum["checksum/config"] != checksum
    assert unrelated_sum["checksum/config"] == checksum


def test_sasl_credentials_come_from_the_existing_secret(
    manifests: list[Manifest], scenario: str
) -> None:
    sasl = values_of(scenario)["kafka"]["sasl"]
    env = {var["name"]: var for var in container(manifests).get("env", [])}
    assert "sasl_password" not in config_map(manifests)["data"]["config.yaml"]
    if not sasl["existingSecret"]:
        # No other Secret either: test_secret_references_are_exactly_those_named_in_values.
        assert not {"TELEMETRY_KAFKA__SASL_USERNAME", "TELEMETRY_KAFKA__SASL_PASSWORD"} & set(env)
        return
    for name, key in [
        ("TELEMETRY_KAFKA__SASL_USERNAME", sasl["usernameKey"]),
        ("TELEMETRY_KAFKA__SASL_PASSWORD", sasl["passwordKey"]),
    ]:
        assert env[name]["valueFrom"] == {
            "secretKeyRef": {"name": sasl["existingSecret"], "key": key}
        }
    assert not by_kind(manifests, "Secret"), "the chart never creates the Secret"


def test_secret_references_are_exactly_those_named_in_values(
    manifests: list[Manifest], scenario: str
) -> None:
    values = values_of(scenario)
    sasl, tls, registry = values["kafka"]["sasl"], values["kafka"]["tls"], values["schemaRegistry"]
    expected: set[tuple[str, str]] = set()
    if sasl["existingSecret"]:
        expected |= {(sasl["existingSecret"], sasl[key]) for key in ("usernameKey", "passwordKey")}
    if tls["existingSecret"]:
        keys = ("caKey", "certKey", "keyKey", "keyPasswordKey")
        expected |= {(tls["existingSecret"], tls[key]) for key in keys if tls[key]}
    if registry["existingSecret"]:
        credentials = ("usernameKey", "passwordKey")
        expected |= {(registry["existingSecret"], registry[key]) for key in credentials}
    if registry["caSecret"]:
        expected.add((registry["caSecret"], registry["caKey"]))
    assert secret_references(manifests) == expected
    assert not by_kind(manifests, "Secret"), "the chart never creates a Secret"


def test_nothing_secret_in_the_config_map(manifests: list[Manifest]) -> None:
    text = config_map(manifests)["data"]["config.yaml"]
    assert "password" not in text
    assert "@" not in text, "no user:password@ in a URL"


def test_secret_volumes_are_read_only_and_project_only_the_named_keys(
    manifests: list[Manifest],
) -> None:
    for mount_path, found in secret_volumes(manifests).items():
        assert found["mount"]["readOnly"] is True, mount_path
        assert "subPath" not in found["mount"], "a subPath mount would never see a rotation"
        secret = found["secret"]
        assert secret["defaultMode"] == 0o440, mount_path
        assert "optional" not in secret, "a missing Secret or key keeps the pod from starting"
        assert [item["key"] for item in secret["items"]] == [
            item["path"] for item in secret["items"]
        ]
    assert pod_spec(manifests)["securityContext"]["fsGroup"] == 10001  # reads the 0440 files


def test_kafka_tls_files_come_from_the_existing_secret(
    manifests: list[Manifest], scenario: str
) -> None:
    tls = values_of(scenario)["kafka"]["tls"]
    env = {var["name"]: var for var in container(manifests).get("env", [])}
    volumes = secret_volumes(manifests)
    if not tls["existingSecret"]:
        assert not KAFKA_TLS_ENV & set(env)
        assert KAFKA_TLS_DIR not in volumes
        return
    assert {name: var.get("value") for name, var in env.items() if name in KAFKA_TLS_ENV} == {
        "TELEMETRY_KAFKA__SSL_CA_LOCATION": f"{KAFKA_TLS_DIR}/{tls['caKey']}",
        "TELEMETRY_KAFKA__SSL_CERTIFICATE_LOCATION": f"{KAFKA_TLS_DIR}/{tls['certKey']}",
        "TELEMETRY_KAFKA__SSL_KEY_LOCATION": f"{KAFKA_TLS_DIR}/{tls['keyKey']}",
        "TELEMETRY_KAFKA__SSL_KEY_PASSWORD_FILE": f"{KAFKA_TLS_DIR}/{tls['keyPasswordKey']}",
    }
    secret = volumes[KAFKA_TLS_DIR]["secret"]
    assert secret["secretName"] == tls["existingSecret"]
    keys = [tls["caKey"], tls["certKey"], tls["keyKey"], tls["keyPasswordKey"]]
    assert [item["key"] for item in secret["items"]] == keys


def test_exactly_once_with_static_membership_reaches_the_processor(
    render: Render, tmp_path: Path
) -> None:
    manifests = render(
        "--set",
        "config.processing.guarantee=exactly_once",
        "--set-json",
        "config.processing.commit_interval_s=0.1",
        "--set",
        "staticMembership.enabled=true",
    )
    processing = pod_config(manifests, tmp_path).processing
    assert (processing.guarantee, processing.commit_interval_s) == ("exactly_once", 0.1)
    # The pod's name: a stable transactional.id, so a restarted pod fences the old one.
    [instance] = [
        e for e in container(manifests)["env"] if e["name"] == "TELEMETRY_PROCESSING__INSTANCE_ID"
    ]
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_kafka_tls_without_a_client_certificate(render: Render, tmp_path: Path) -> None:
    """The default key names: the CA only (server verification), no client certificate."""
    manifests = render(
        "--set",
        "kafka.tls.existingSecret=kafka-ca",
        "--set",
        "config.kafka.security_protocol=SSL",
    )
    env = pod_env(container(manifests))
    assert {name: env[name] for name in KAFKA_TLS_ENV & set(env)} == {
        "TELEMETRY_KAFKA__SSL_CA_LOCATION": f"{KAFKA_TLS_DIR}/ca.crt"
    }
    secret = secret_volumes(manifests)[KAFKA_TLS_DIR]["secret"]
    assert secret == {
        "secretName": "kafka-ca",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
        "defaultMode": 0o440,
    }
    config = pod_config(manifests, tmp_path)
    assert config.kafka.ssl_ca_location == f"{KAFKA_TLS_DIR}/ca.crt"
    assert config.kafka.ssl_certificate_location is None
    assert config.kafka.ssl_key_password is None
    for kube_version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(one(manifests, "Deployment"), kube_version, strict=True)


def test_registry_credentials_come_from_the_existing_secret(
    manifests: list[Manifest], scenario: str
) -> None:
    registry = values_of(scenario)["schemaRegistry"]
    env = {var["name"]: var for var in container(manifests).get("env", [])}
    volumes = secret_volumes(manifests)
    if not registry["existingSecret"]:
        ca_env = {"TELEMETRY_SCHEMAS__REGISTRY_CA_LOCATION"}
        assert not (REGISTRY_ENV - ca_env) & set(env)
        assert REGISTRY_SECRET_DIR not in volumes
    else:
        secret = registry["existingSecret"]
        assert env["TELEMETRY_SCHEMAS__REGISTRY_USERNAME"]["valueFrom"] == {
            "secretKeyRef": {"name": secret, "key": registry["usernameKey"]}
        }
        # The password is a file: no env var holds it, so no env dump or describe shows it.
        assert env["TELEMETRY_SCHEMAS__REGISTRY_PASSWORD_FILE"] == {
            "name": "TELEMETRY_SCHEMAS__REGISTRY_PASSWORD_FILE",
            "value": f"{REGISTRY_SECRET_DIR}/{registry['passwordKey']}",
        }
        assert "TELEMETRY_SCHEMAS__REGISTRY_PASSWORD" not in env
        password_refs = [
            name
            for name, var in env.items()
            if var.get("valueFrom", {}).get("secretKeyRef")
            == {"name": secret, "key": registry["passwordKey"]}
        ]
        assert password_refs == []
        projected = volumes[REGISTRY_SECRET_DIR]["secret"]
        assert projected["secretName"] == secret
        assert projected["items"] == [
            {"key": registry["passwordKey"], "path": registry["passwordKey"]}
        ]
    if not registry["caSecret"]:
        assert "TELEMETRY_SCHEMAS__REGISTRY_CA_LOCATION" not in env
        assert REGISTRY_TLS_DIR not in volumes
        return
    assert env["TELEMETRY_SCHEMAS__REGISTRY_CA_LOCATION"]["value"] == (
        f"{REGISTRY_TLS_DIR}/{registry['caKey']}"
    )
    projected = volumes[REGISTRY_TLS_DIR]["secret"]
    assert projected["secretName"] == registry["caSecret"]
    assert projected["items"] == [{"key": registry["caKey"], "path": registry["caKey"]}]


def test_no_secret_mounts_nor_network_policy_by_default(
    rendered_scenarios: dict[str, list[Manifest]],
) -> None:
    defaults = values_of("default")
    assert defaults["kafka"]["tls"]["existingSecret"] == ""
    assert defaults["schemaRegistry"]["existingSecret"] == ""
    assert defaults["schemaRegistry"]["caSecret"] == ""
    assert defaults["networkPolicy"]["enabled"] is False
    manifests = rendered_scenarios["default"]
    assert secret_volumes(manifests) == {}
    assert not (KAFKA_TLS_ENV | REGISTRY_ENV) & set(pod_env(container(manifests)))
    assert not by_kind(manifests, "NetworkPolicy")


def test_network_policy(manifests: list[Manifest], scenario: str) -> None:
    values = values_of(scenario)["networkPolicy"]
    policies = by_kind(manifests, "NetworkPolicy")
    assert len(policies) == int(values["enabled"])
    for policy in policies:
        spec = policy["spec"]
        assert policy["apiVersion"] == "networking.k8s.io/v1"
        assert spec["podSelector"] == {"matchLabels": SELECTOR}
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        # Ingress: the named metrics port only (the container's one port), from metricsFrom.
        (ingress,) = spec["ingress"]
        assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        assert [port["name"] for port in container(manifests)["ports"]] == ["metrics"]
        assert ingress["from"] == (values["metricsFrom"] or [{"podSelector": {}}])
        dns = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
        if values["dns"]["to"]:
            dns["to"] = values["dns"]["to"]
        assert spec["egress"] == [*([dns] if values["dns"]["enabled"] else []), *values["egress"]]


def test_network_policy_defaults(render: Render) -> None:
    """Enabled with one egress rule: metrics from the release namespace, DNS to anywhere."""
    manifests = render(*NETWORK_POLICY)
    spec = one(manifests, "NetworkPolicy")["spec"]
    assert spec["ingress"] == [
        {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [{"podSelector": {}}]}
    ]
    assert spec["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"ports": [{"port": 9092}]},
    ]
    no_dns = one(
        render(*NETWORK_POLICY, "--set", "networkPolicy.dns.enabled=false"), "NetworkPolicy"
    )
    assert no_dns["spec"]["egress"] == [{"ports": [{"port": 9092}]}]
    for kube_version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(one(manifests, "NetworkPolicy"), kube_version, strict=True)
        kubernetes_validate.validate(no_dns, kube_version, strict=True)


@pytest.mark.parametrize(("key", "use"), sorted(SECRET_VALUES_IN_CONFIG.items()))
def test_secrets_in_config_are_refused_pointing_to_the_secret(
    helm: str, key: str, use: str
) -> None:
    """Refused in one sentence that names the Secret-based value and never the secret itself."""
    args = ["--set-string", f"config.{key}=hunter2"]
    result = run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])
    assert result.returncode != 0, f"helm accepted {args}"
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    message = line.partition("): ")[2]
    assert message.startswith(f"config.{key} must not be set in values"), line
    assert use in message, line
    assert "hunter2" not in result.stderr
    assert not re.search(r"[.;]\s", message), f"one sentence: {message}"


def test_static_membership_is_off_by_default(
    manifests: list[Manifest], scenario: str, tmp_path: Path
) -> None:
    assert values_of("default")["staticMembership"]["enabled"] is False
    env = {var["name"]: var for var in container(manifests).get("env", [])}
    if values_of(scenario)["staticMembership"]["enabled"]:
        assert env[INSTANCE_ID_ENV]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        return
    assert INSTANCE_ID_ENV not in env
    assert "fieldRef" not in yaml.safe_dump_all(manifests)
    assert pod_config(manifests, tmp_path).processing.instance_id is None


def test_static_membership_sets_the_instance_id_from_the_pod_name(
    manifests: list[Manifest], scenario: str, render: Render, tmp_path: Path
) -> None:
    enabled = render(*values_args(scenario), *STATIC_MEMBERSHIP)
    main = container(enabled)
    ours = [var for var in main["env"] if var["name"] == INSTANCE_ID_ENV]
    assert ours == [
        {"name": INSTANCE_ID_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    ]
    # The scenario's own env vars (SASL, extraEnv) are all still there.
    before = [var for var in container(manifests).get("env", []) if var["name"] != INSTANCE_ID_ENV]
    assert [var for var in main["env"] if var["name"] != INSTANCE_ID_ENV] == before
    deployment = one(enabled, "Deployment")
    for kube_version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(deployment, kube_version, strict=True)
    # Only the env var changes: the same ConfigMap, so the same checksum (no extra roll).
    assert config_map(enabled) == config_map(manifests)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    default_annotations = one(manifests, "Deployment")["spec"]["template"]["metadata"]
    assert annotations == default_annotations["annotations"]
    # The processor's loader turns the pod name into processing.instance_id (group.instance.id).
    config = pod_config(enabled, tmp_path)
    assert config.processing.instance_id == POD_NAME
    timeout = values_of(scenario)["config"]["processing"]["session_timeout_ms"]
    assert config.processing.session_timeout_ms == timeout


def test_values_session_timeout_is_the_processors_default() -> None:
    default = load_config(None, env={}).processing.session_timeout_ms
    assert values_of("default")["config"]["processing"]["session_timeout_ms"] == default


def test_long_session_timeout_is_refused_only_with_static_membership(render: Render) -> None:
    long_timeout = ("--set", "config.processing.session_timeout_ms=600000")
    assert "session_timeout_ms: 600000" in config_map(render(*long_timeout))["data"]["config.yaml"]
    at_bound = ("--set", "config.processing.session_timeout_ms=300000")
    assert INSTANCE_ID_ENV in pod_env(container(render(*STATIC_MEMBERSHIP, *at_bound)))


def test_replicas_belong_to_the_autoscaler_when_there_is_one(
    manifests: list[Manifest], scenario: str
) -> None:
    values = values_of(scenario)
    spec = one(manifests, "Deployment")["spec"]
    scaled = values["autoscaling"]["enabled"] or values["keda"]["enabled"]
    assert ("replicas" in spec) is not scaled
    if not scaled:
        assert spec["replicas"] == values["replicaCount"]


def test_hpa_is_capped_at_the_partition_count(manifests: list[Manifest], scenario: str) -> None:
    values = values_of(scenario)
    for hpa in by_kind(manifests, "HorizontalPodAutoscaler"):
        wanted = values["autoscaling"]["maxReplicas"]
        assert hpa["spec"]["maxReplicas"] == max_replicas(values, wanted)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": FULLNAME,
        }


def test_keda_scales_on_lag_capped_at_the_partition_count(
    manifests: list[Manifest], scenario: str
) -> None:
    values = values_of(scenario)
    objects = by_kind(manifests, "ScaledObject")
    assert len(objects) == int(values["keda"]["enabled"])
    for scaled in objects:
        spec = scaled["spec"]
        partitions = values["config"]["topics"]["partitions"]
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert spec["scaleTargetRef"]["name"] == FULLNAME
        workers = expected_workers(values)
        assert spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        assert spec["maxReplicaCount"] * workers <= partitions
        assert spec["maxReplicaCount"] == max_replicas(values, values["keda"]["maxReplicaCount"])
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["bootstrapServers"] == values["config"]["kafka"]["bootstrap_servers"]
        assert meta["consumerGroup"] == values["config"]["processing"]["group_id"]
        assert meta["topic"] == values["config"]["topics"]["readings"]
        assert meta["lagThreshold"] == str(values["keda"]["lagThreshold"])
        assert meta["allowIdleConsumers"] == "false"
        assert all(isinstance(value, str) for value in meta.values()), "KEDA metadata is strings"
        secret = values["kafka"]["sasl"]["existingSecret"]
        if secret:
            auth = one(manifests, "TriggerAuthentication")
            assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
            refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
            assert set(refs) == {"username", "password"}
            assert {ref["name"] for ref in refs.values()} == {secret}
            assert meta["sasl"] == values["keda"]["sasl"]
        else:
            assert "authenticationRef" not in trigger


@pytest.mark.parametrize(
    ("cpu", "workers"),
    [
        ("250m", 1),
        ("1", 1),
        ("1500m", 1),
        ("2", 2),
        (2, 2),
        ("3.5", 3),
        ("4000m", 4),
        ("16", 8),  # at most the partition count (8)
        (None, 1),  # no request
    ],
)
def test_workers_auto_follow_the_cpu_request(render: Render, cpu: Any, workers: int) -> None:
    args = container(render("--set-json", f"resources.requests.cpu={json.dumps(cpu)}"))["args"]
    assert args[-2:] == ["--workers", str(workers)]


@pytest.mark.parametrize(
    ("args", "workers"),
    [
        (("--set-json", "workers=3"), 3),
        (("--set-json", "workers=3", "--set-json", 'resources.requests.cpu="6"'), 3),
        (("--set-string", "workers=2"), 2),
        (("--set-json", "workers=1", "--set-json", 'resources.requests.cpu="4"'), 1),
    ],
    ids=["integer", "integer-over-cpu", "string", "one-over-cpu"],
)
def test_an_explicit_workers_value_wins(
    render: Render, args: tuple[str, ...], workers: int
) -> None:
    assert container(render(*args))["args"][-2:] == ["--workers", str(workers)]


def test_autoscalers_are_capped_at_partitions_per_worker(render: Render) -> None:
    four = ("--set-json", "workers=4")  # 8 partitions: 2 pods of 4 members
    hpa = one(render(*four, "--set", "autoscaling.enabled=true"), "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == 2
    keda = one(render(*four, "--set", "keda.enabled=true"), "ScaledObject")
    assert keda["spec"]["maxReplicaCount"] == 2
    eight = one(render("--set-json", "workers=8", "--set", "keda.enabled=true"), "ScaledObject")
    assert eight["spec"]["maxReplicaCount"] == 1


def test_pod_disruption_budget(manifests: list[Manifest], scenario: str) -> None:
    values = values_of(scenario)["podDisruptionBudget"]
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    assert len(pdbs) == int(values["enabled"])
    for pdb in pdbs:
        assert pdb["spec"]["maxUnavailable"] == 1
        assert "minAvailable" not in pdb["spec"]


def test_service_monitor_fields(manifests: list[Manifest], scenario: str) -> None:
    values = values_of(scenario)["serviceMonitor"]
    monitors = by_kind(manifests, "ServiceMonitor")
    assert len(monitors) == int(values["enabled"])
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert values["labels"].items() <= monitor["metadata"]["labels"].items()
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        spec = monitor["spec"]
        # The rules match job="telemetry": the job label is the Service's name label.
        assert spec["jobLabel"] == "app.kubernetes.io/name"
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] == "metrics"
        assert endpoint["path"] == "/metrics"
        assert endpoint["interval"] == values["interval"]
        assert endpoint["scrapeTimeout"] == values["scrapeTimeout"]
        assert endpoint["metricRelabelings"] == values["metricRelabelings"]


def test_prometheus_rule_embeds_the_rules_file(manifests: list[Manifest], scenario: str) -> None:
    values = values_of(scenario)["prometheusRule"]
    rules = by_kind(manifests, "PrometheusRule")
    assert len(rules) == int(values["enabled"])
    source = yaml.safe_load((CHART / "rules" / "telemetry-rules.yaml").read_text())
    for rule in rules:
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        assert values["labels"].items() <= rule["metadata"]["labels"].items()
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert rule["spec"]["groups"] == source["groups"]


def test_dashboard_config_maps_for_the_grafana_sidecar(
    manifests: list[Manifest], scenario: str
) -> None:
    values = values_of(scenario)["grafanaDashboards"]
    files = sorted((CHART / "dashboards").glob("*.json"))
    maps = [cm for cm in by_kind(manifests, "ConfigMap") if "-dashboard-" in cm["metadata"]["name"]]
    assert len(maps) == (len(files) if values["enabled"] else 0)
    for cm, path in zip(maps, files, strict=False):
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["namespace"] == (values["namespace"] or NAMESPACE)
        assert cm["metadata"].get("annotations", {}) == values["annotations"]
        assert json.loads(cm["data"][path.name]) == json.loads(path.read_text())


def test_checksum_is_sha256_of_the_rendered_config_map(helm: str) -> None:
    """The annotation is Helm's sha256sum of the ConfigMap template's output."""
    out = run_ok(
        [
            helm,
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--show-only",
            "templates/configmap.yaml",
        ]
    )
    body = out.split("\n", 2)[2]  # drop "---" and "# Source: ..."
    deployment = yaml.safe_load(
        run_ok(
            [
                helm,
                "template",
                RELEASE,
                str(CHART),
                "--namespace",
                NAMESPACE,
                "--show-only",
                "templates/deployment.yaml",
            ]
        )
    )
    annotation = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    candidates = {hashlib.sha256(text.encode()).hexdigest() for text in (body, body.rstrip("\n"))}
    assert annotation in candidates


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "autoscaling.enabled=true", "--set", "keda.enabled=true"], "mutually exclusive"),
        (["--set", "config.metrics.host=127.0.0.1"], "loopback"),
        (["--set", "terminationGracePeriodSeconds=15"], "drain_timeout_s"),
        (["--set", "terminationGracePeriodSeconds=54"], "= 55 s"),  # 20 s drain + 35 s
        (["--set", "replicas=3"], "additional properties"),
        (["--set", "config.kafka.sasl_password=hunter2"], "kafka.sasl.existingSecret"),
        (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        (["--set", "config.topics.partitions=0"], "partitions"),
        (
            ["--set", "podDisruptionBudget.minAvailable=1"],
            "only one of minAvailable and maxUnavailable",
        ),
        (
            [*STATIC_MEMBERSHIP, "--set", "config.processing.session_timeout_ms=300001"],
            "session_timeout_ms <= 300000",
        ),
        (["--set", "config.processing.instance_id=telemetry-0"], "instance_id"),
        (["--set", "config.processing.session_timeout_ms=45s"], "session_timeout_ms"),
        (["--set-string", "config.kafka.extra.ssl\\.key\\.password=x"], "looks secret"),
        (
            ["--set-string", "config.kafka.extra.sasl\\.oauthbearer\\.client\\.secret=x"],
            "looks secret",
        ),
        (["--set", "config.kafka.ssl_key_password=x"], "kafka.tls.keyPasswordKey"),
        (["--set", "config.schemas.registry_password=x"], "schemaRegistry.existingSecret"),
        (
            ["--set", "config.schemas.registry_url=https://user:x@registry:8081"],
            "registry_url must not carry credentials",
        ),
        (
            ["--set", "kafka.tls.existingSecret=kafka-tls"],
            "needs config.kafka.security_protocol SSL or SASL_SSL, not PLAINTEXT",
        ),
        (
            [*KAFKA_TLS, "--set", "kafka.tls.certKey=tls.crt"],
            "certKey and kafka.tls.keyKey go together",
        ),
        (
            [*KAFKA_TLS, "--set", "kafka.tls.keyPasswordKey=key.password"],
            "keyPasswordKey needs kafka.tls.keyKey",
        ),
        (["--set", "kafka.tls.caKey=../ca.crt"], "/kafka/tls/caKey"),
        (["--set", "schemaRegistry.existingSecret=Registry"], "/schemaRegistry/existingSecret"),
        (
            ["--set", "schemaRegistry.existingSecret=registry"],
            "need config.schemas.registry_url",
        ),
        (
            [*KAFKA_TLS, "--set", "podSecurityContext.fsGroup=null"],
            "podSecurityContext.fsGroup is needed",
        ),
        (["--set", "networkPolicy.enabled=true"], "needs networkPolicy.egress rules"),
        (
            [*NETWORK_POLICY, "--set", "networkPolicy.egress[0].ports[0].protocol=ICMP"],
            "protocol",
        ),
        (["--set", "config.processing.guarantee=exactly_twice"], "/config/processing/guarantee"),
        (["--set-json", "workers=0"], "/workers"),
        (["--set", "workers=two"], "/workers"),
        (["--set-json", "workers=1.5"], "/workers"),
        (["--set-json", "workers=9"], "workers (9) must not exceed config.topics.partitions (8)"),
        (["--set-json", "config.processing.workers=2"], "/config/processing/workers"),
    ],
    ids=[
        "hpa-and-keda",
        "loopback-metrics-host",
        "grace-shorter-than-drain",
        "grace-shorter-than-the-shutdown",
        "unknown-top-level-key",
        "password-in-values",
        "bad-pull-policy",
        "zero-partitions",
        "pdb-both-bounds",
        "static-membership-long-session-timeout",
        "instance-id-in-values",
        "session-timeout-not-an-integer",
        "key-password-in-configmap",
        "client-secret-in-configmap",
        "ssl-key-password-in-values",
        "registry-password-in-values",
        "registry-url-with-credentials",
        "kafka-tls-with-plaintext",
        "client-certificate-without-key",
        "key-password-without-key",
        "secret-key-with-a-path",
        "secret-name-not-a-dns-name",
        "registry-secret-without-registry",
        "secret-files-without-fs-group",
        "network-policy-without-egress",
        "network-policy-bad-protocol",
        "unknown-guarantee",
        "zero-workers",
        "workers-not-a-number",
        "workers-not-an-integer",
        "more-workers-than-partitions",
        "workers-in-config",
    ],
)
def test_bad_values_are_refused(helm: str, args: list[str], message: str) -> None:
    result = run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])
    assert result.returncode != 0, f"helm accepted {args}"
    assert message.lower() in result.stderr.lower(), result.stderr


def test_notes_render_for_every_scenario(helm: str, tmp_path: Path) -> None:
    """NOTES.txt as Helm renders it (``helm template`` omits it, so a copy renders it via tpl)."""
    chart = chart_for_notes(CHART, tmp_path)
    for scenario in SCENARIOS:
        notes = render_notes(helm, chart, *values_args(scenario))
        values = values_of(scenario)
        assert f"{FULLNAME} is installed in namespace {NAMESPACE}" in notes, scenario
        assert f"port-forward svc/{FULLNAME} 9100:metrics" in notes, scenario
        assert f"Consumes:   {values['config']['topics']['readings']}" in notes, scenario
        workers = expected_workers(values)
        assert f"Workers:    {workers} per pod" in notes, scenario
        if values["keda"]["enabled"]:
            partitions = values["config"]["topics"]["partitions"]
            per = f" / {workers} workers" if workers > 1 else ""
            assert f"(capped at {partitions} partitions{per})" in notes, scenario


def test_notes_explain_static_membership_when_enabled(helm: str, tmp_path: Path) -> None:
    chart = chart_for_notes(CHART, tmp_path)
    assert "Static membership" not in render_notes(helm, chart)
    notes = render_notes(
        helm, chart, *STATIC_MEMBERSHIP, "--set", "config.processing.session_timeout_ms=30000"
    )
    assert "group.instance.id = pod name" in notes
    assert "its partitions wait config.processing.session_timeout_ms (30000 ms)" in notes
    # Without the key (null drops it) the chart assumes what the processor then uses.
    unset = ("--set", "config.processing.session_timeout_ms=null")
    default = load_config(None, env={}).processing.session_timeout_ms
    assert f"session_timeout_ms ({default} ms)" in render_notes(
        helm, chart, *STATIC_MEMBERSHIP, *unset
    )


def test_notes_count_the_workers_and_idle_members(helm: str, tmp_path: Path) -> None:
    chart = chart_for_notes(CHART, tmp_path)
    notes = render_notes(helm, chart)
    assert "Workers:    1 per pod (group members, one process each; auto: " in notes
    assert "sit idle" not in notes
    crowded = ("--set-json", "workers=2", "--set-json", "replicaCount=5")
    notes = render_notes(helm, chart, *crowded, *STATIC_MEMBERSHIP)
    assert "Workers:    2 per pod (group members, one process each)" in notes
    assert "10 members for 8 partitions: 2 of them sit idle." in notes
    assert "and <pod name>-<worker> for each of its workers" in notes


def test_notes_describe_tls_the_registry_secrets_and_the_network_policy(
    helm: str, tmp_path: Path
) -> None:
    chart = chart_for_notes(CHART, tmp_path)
    default = render_notes(helm, chart)
    for absent in ("Kafka TLS", "Schema Registry", "NetworkPolicy"):
        assert absent not in default
    notes = render_notes(helm, chart, *values_args("tls"))
    assert (
        "Kafka TLS files come from Secret telemetry-kafka-tls (keys ca.crt, tls.crt, tls.key, "
        f"key.password), mounted read-only at {KAFKA_TLS_DIR}, with a client certificate"
    ) in notes
    assert "Schema Registry credentials come from Secret telemetry-registry" in notes
    assert f"the password (key password) as a file in {REGISTRY_SECRET_DIR}" in notes
    assert "CA in Secret telemetry-registry-ca (key ca.crt)" in notes
    assert (
        f"NetworkPolicy {FULLNAME}: ingress to the metrics port only, from "
        "networkPolicy.metricsFrom; egress to networkPolicy.egress and DNS only"
    ) in notes
    fallback = render_notes(helm, chart, *NETWORK_POLICY)
    assert f"from any pod in namespace {NAMESPACE}" in fallback
