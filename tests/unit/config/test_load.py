"""The config loader: YAML, environment overrides, secret files, one message per mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from telemetry.config import Config, KafkaConfig, load_config
from telemetry.config._load import _secret_paths
from telemetry.errors import ConfigError
from telemetry.rules import RateOfChangeRule, SilentRule, ThresholdRule, ZScoreRule
from telemetry.windows import Hopping, Session, Sliding, Tumbling

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_file_no_env_gives_the_defaults() -> None:
    assert load_config(None, {}) == Config()


def test_the_example_config_equals_the_defaults() -> None:
    assert load_config(EXAMPLE, {}) == Config()


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), {}) == Config()


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        kafka:
          bootstrap_servers: kafka:9092
          security_protocol: SASL_SSL
          sasl_mechanism: SCRAM-SHA-512
          sasl_username: svc
          extra: {client.rack: eu-1, linger.ms: 5, enable.idempotence: true}
        topics: {readings: r, partitions: 3, late: late}
        processing:
          group_id: g
          allowed_lateness_ms: 1000
          commit_interval_s: 2
          windows:
            - {kind: tumbling, size_ms: 5000, percentiles: true}
            - {kind: hopping, size_ms: 10000, advance_ms: 5000}
            - {kind: session, gap_ms: 3000}
          rules:
            - {kind: threshold, name: hot, sensor: temperature, raise_at: 40, clear_at: 35}
            - {kind: rate_of_change, name: jump, sensor: humidity, limit_per_s: 5, span_ms: 1000}
            - {kind: silent, name: quiet, sensor: temperature, after_ms: 10000}
        metrics: {host: 0.0.0.0, port: 0}
        log: {format: json, level: DEBUG}
        """,
    )
    config = load_config(path, {})
    assert config.kafka.bootstrap_servers == "kafka:9092"
    assert config.kafka.extra == {
        "client.rack": "eu-1",
        "linger.ms": "5",
        "enable.idempotence": "true",
    }
    assert config.topics.readings == "r"
    assert config.topics.partitions == 3
    assert config.topics.late == "late"
    assert config.processing.commit_interval_s == 2.0
    assert config.processing.windows == (
        Tumbling(size_ms=5000, percentiles=True),
        Hopping(size_ms=10000, advance_ms=5000),
        Session(gap_ms=3000),
    )
    assert config.processing.rules == (
        ThresholdRule(name="hot", sensor="temperature", raise_at=40, clear_at=35),
        RateOfChangeRule(name="jump", sensor="humidity", limit_per_s=5, span_ms=1000),
        SilentRule(name="quiet", sensor="temperature", after_ms=10000),
    )
    assert config.metrics.port == 0
    assert config.log.format == "json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kafak: {}", "kafak: unknown section"),
        ("kafka: {bootstrap: x}", "kafka.bootstrap: unknown key"),
        ("kafka: [1]", "kafka: expected a mapping, got a list"),
        ("topics: {partitions: eight}", "topics.partitions: expected an integer, got a string"),
        ("topics: {partitions: true}", "topics.partitions: expected an integer, got a boolean"),
        ("topics: {partitions: 0}", "topics.partitions: must be >= 1"),
        ("topics: {readings: 5}", "topics.readings: expected a string, got a number"),
        ("topics: {readings: null}", "topics.readings: must not be null"),
        ("metrics: {port: 70000}", "metrics.port: must be in 0..65535"),
        ("log: {format: xml}", "log.format: must be one of auto, json, text; got 'xml'"),
        ("kafka: {security_protocol: TLS}", "kafka.security_protocol: must be one of"),
        ("kafka: {extra: {a: [1]}}", "kafka.extra.a: expected a scalar, got a list"),
        ("processing: {commit_interval_s: fast}", "processing.commit_interval_s: expected a num"),
        ("processing: {commit_interval_s: 0}", "processing.commit_interval_s: is out of range"),
        ("processing: {windows: []}", "processing.windows: must name at least one window"),
        ("processing: {windows: {kind: tumbling}}", "processing.windows: expected a list"),
        ("processing: {windows: [5]}", "processing.windows[0]: expected a mapping with a 'kind'"),
        ("processing: {windows: [{size_ms: 5}]}", "processing.windows[0].kind: missing"),
        (
            "processing: {windows: [{kind: rolling, size_ms: 5}]}",
            "processing.windows[0].kind: unknown window kind 'rolling'",
        ),
        (
            "processing: {windows: [{kind: tumbling}]}",
            "processing.windows[0].size_ms: missing (required for a tumbling window)",
        ),
        (
            "processing: {windows: [{kind: tumbling, size_ms: -5}]}",
            "processing.windows[0].size_ms: must be > 0 (milliseconds), got -5",
        ),
        (
            "processing: {windows: [{kind: tumbling, size_ms: 5, gap_ms: 3}]}",
            "processing.windows[0].gap_ms: unknown key for a tumbling window",
        ),
        (
            (
                "processing: {windows: [{kind: tumbling, size_ms: 5000},"
                " {kind: hopping, size_ms: 10000, advance_ms: 20000}]}"
            ),
            "processing.windows[1].advance_ms: must be <= size_ms (10000)",
        ),
        (
            "processing: {windows: [{kind: session, gap_ms: 1.5}]}",
            "processing.windows[0].gap_ms: expected an integer, got a number 1.5",
        ),
        (
            (
                "processing: {rules: [{kind: threshold, name: a, sensor: t, raise_at: 1,"
                " clear_at: 2}]}"
            ),
            "processing.rules[0].clear_at: must be <= raise_at (1) for 'above'",
        ),
        (
            "processing: {rules: [{kind: threshold, name: a, sensor: t, raise_at: 1}]}",
            "processing.rules[0].clear_at: missing (required for a threshold rule)",
        ),
        (
            (
                "processing: {rules: [{kind: threshold, name: a, sensor: t, raise_at: 1,"
                " clear_at: 0, direction: sideways}]}"
            ),
            "processing.rules[0].direction: must be one of above, below",
        ),
        (
            "processing: {rules: [{kind: silent, name: a, sensor: t, after_ms: 0}]}",
            "processing.rules[0].after_ms: must be > 0",
        ),
        (
            (
                "processing: {rules: [{kind: silent, name: a, sensor: t, after_ms: 5,"
                " severity: LOUD}]}"
            ),
            "processing.rules[0].severity: must be one of INFO, WARNING, CRITICAL",
        ),
        (
            "processing: {rules: [{kind: silent, name: '', sensor: t, after_ms: 5}]}",
            "processing.rules[0]: an alert rule needs a non-empty name",
        ),
        (
            (
                "processing: {rules: [{kind: silent, name: a, sensor: t, after_ms: 5},"
                " {kind: silent, name: a, sensor: h, after_ms: 5}]}"
            ),
            "processing.rules[1].name: duplicate rule name 'a'",
        ),
        (
            (
                "processing: {rules: [{kind: rate_of_change, name: a, sensor: t, limit_per_s: 1,"
                " span_ms: 5, debounce: 0}]}"
            ),
            "processing.rules[0].debounce: must be >= 1, got 0",
        ),
        ("[1, 2]", "expected a mapping of sections at the top, got a list"),
        ("kafka: {a: [}", "line 1"),
        (
            "processing: {workers: 0}",
            "processing.workers: must be an integer >= 1 (one group member per worker process)",
        ),
        ("processing: {workers: auto}", "processing.workers: expected an integer, got a string"),
        ("processing: {workers: 1.5}", "processing.workers: expected an integer, got a number"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, text))


def test_workers_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load_config(None, {}).processing.workers == 1
    path = write(tmp_path, "processing: {workers: 4}")
    assert load_config(path, {}).processing.workers == 4
    assert load_config(path, {"TELEMETRY_PROCESSING__WORKERS": "2"}).processing.workers == 2


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read config file" in error_of(tmp_path / "nope.yaml")


def test_env_overrides_with_coercion(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka: {bootstrap_servers: from-file:9092}\n")
    env = {
        "TELEMETRY_KAFKA__BOOTSTRAP_SERVERS": "from-env:9092",
        "TELEMETRY_TOPICS__PARTITIONS": "12",
        "TELEMETRY_TOPICS__LATE": "late-topic",
        "TELEMETRY_PROCESSING__COMMIT_INTERVAL_S": "0.5",
        "TELEMETRY_PROCESSING__WINDOWS": "[{kind: hopping, size_ms: 10000, advance_ms: 2000}]",
        "TELEMETRY_PROCESSING__RULES": (
            '[{"kind": "silent", "name": "q", "sensor": "t", "after_ms": 100}]'
        ),
        "TELEMETRY_KAFKA__EXTRA": '{"client.rack": "r1"}',
        "TELEMETRY_METRICS__PORT": "0",
        "TELEMETRY_LOG__FORMAT": "json",
        "TELEMETRY_SCHEMAS__REGISTRY_URL": "",
        "TELEMETRY_KAFKA_PORT": "9999",  # the local broker's variable: not a config key
        "OTHER__THING": "x",
    }
    config = load_config(path, env)
    assert config.kafka.bootstrap_servers == "from-env:9092"
    assert config.topics.partitions == 12
    assert config.topics.late == "late-topic"
    assert config.processing.commit_interval_s == 0.5
    assert config.processing.windows == (Hopping(size_ms=10000, advance_ms=2000),)
    assert config.processing.rules == (SilentRule(name="q", sensor="t", after_ms=100),)
    assert config.kafka.extra == {"client.rack": "r1"}
    assert config.metrics.port == 0
    assert config.log.format == "json"
    assert config.schemas.registry_url is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"TELEMETRY_TOPICS__PARTITIONS": "many"},
            "topics.partitions (from TELEMETRY_TOPICS__PARTITIONS): expected an integer",
        ),
        ({"TELEMETRY_KAFKA__NOPE": "1"}, "TELEMETRY_KAFKA__NOPE: kafka.nope is not a config"),
        ({"TELEMETRY_NOPE__X": "1"}, "TELEMETRY_NOPE__X: unknown section 'nope'"),
        ({"TELEMETRY_A__B__C": "1"}, "TELEMETRY_A__B__C: expected TELEMETRY_<SECTION>__<KEY>"),
        ({"TELEMETRY_LOG__FORMAT": "xml"}, "log.format: must be one of"),
        (
            {"TELEMETRY_PROCESSING__WINDOWS": "[{kind: hopping, size_ms: 1, advance_ms: 2}]"},
            "processing.windows[0].advance_ms: must be <= size_ms (1)",
        ),
        (
            {"TELEMETRY_PROCESSING__WINDOWS": "[{kind: "},
            "processing.windows (from TELEMETRY_PROCESSING__WINDOWS): not valid YAML/JSON",
        ),
        (
            {"TELEMETRY_PROCESSING__WORKERS": "auto"},
            "processing.workers (from TELEMETRY_PROCESSING__WORKERS): expected an integer",
        ),
        ({"TELEMETRY_PROCESSING__WORKERS": "-1"}, "processing.workers: must be an integer >= 1"),
    ],
)
def test_bad_env_names_the_variable_or_key(env: dict[str, str], expected: str) -> None:
    assert expected in error_of(None, env)


def test_secret_from_file_in_yaml(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    path = write(tmp_path, f"kafka: {{sasl_password_file: {secret}}}\n")
    assert load_config(path, {}).kafka.sasl_password == "s3cret"  # noqa: S105  # test data


def test_secret_from_file_in_env(tmp_path: Path) -> None:
    secret = tmp_path / "user"
    secret.write_text("  svc-user  \n")
    config = load_config(None, {"TELEMETRY_KAFKA__SASL_USERNAME_FILE": str(secret)})
    assert config.kafka.sasl_username == "svc-user"


def test_secret_file_missing(tmp_path: Path) -> None:
    path = write(tmp_path, f"kafka: {{sasl_password_file: {tmp_path / 'nope'}}}\n")
    assert "kafka.sasl_password_file: cannot read" in error_of(path)


def test_secret_and_value_both_set(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("x")
    path = write(tmp_path, f"kafka: {{sasl_password: y, sasl_password_file: {secret}}}\n")
    assert "kafka.sasl_password_file: kafka.sasl_password is set too" in error_of(path)


def test_secret_file_for_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka: {token_file: /x}\n")
    assert "kafka.token_file: unknown key (kafka.token does not exist)" in error_of(path)


def test_the_sasl_password_is_never_in_a_repr(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "kafka: {security_protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u,"
        " sasl_password: s3cr3t-value}\n"
    )
    config = load_config(path)
    assert config.kafka.sasl_password == "s3cr3t-value"  # noqa: S105 - a test's secret
    assert "s3cr3t-value" not in repr(config)
    assert "s3cr3t-value" not in str(config.kafka)


def test_sasl_plain_over_plaintext_is_called_insecure() -> None:
    plain = KafkaConfig(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")
    (warning,) = plain.insecure()
    assert "sends the password unencrypted" in warning
    assert KafkaConfig(security_protocol="SASL_SSL", sasl_mechanism="PLAIN").insecure() == []
    assert KafkaConfig().insecure() == []


SECRETS = sorted(_secret_paths())


def test_every_password_field_is_a_secret() -> None:
    assert SECRETS == [
        "kafka.sasl_password",
        "kafka.ssl_key_password",
        "schemas.registry_password",
    ]


@pytest.mark.parametrize("path", SECRETS)
@pytest.mark.parametrize("value", ["[s3cr3t-value]", "{a: s3cr3t-value}", "31337"])
def test_a_config_error_names_a_secret_key_never_its_value(
    tmp_path: Path, path: str, value: str
) -> None:
    section, key = path.split(".")
    message = error_of(write(tmp_path, f"{section}: {{{key}: {value}}}\n"))
    assert message.startswith(f"{path}: expected a string")
    assert "s3cr3t" not in message
    assert "31337" not in message


@pytest.mark.parametrize(
    ("name", "text"),
    [("TELEMETRY_KAFKA__EXTRA", "{sasl.password: [s3cr3t-value"), ("TELEMETRY_LOG__LEVEL", "x")],
)
def test_an_environment_error_never_echoes_a_mapping(name: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {name: text})
    assert "s3cr3t" not in str(caught.value)


def test_the_mutual_tls_settings_reach_the_clients_and_the_key_password_stays_hidden() -> None:
    kafka = KafkaConfig(
        security_protocol="SSL",
        ssl_ca_location="/etc/telemetry/tls/ca.crt",
        ssl_certificate_location="/etc/telemetry/tls/tls.crt",
        ssl_key_location="/etc/telemetry/tls/tls.key",
        ssl_key_password="s3cr3t-value",  # noqa: S106 - a test's secret
    )
    client = kafka.client_config()
    assert client["ssl.certificate.location"] == "/etc/telemetry/tls/tls.crt"
    assert client["ssl.key.location"] == "/etc/telemetry/tls/tls.key"
    assert client["ssl.key.password"] == "s3cr3t-value"
    assert "s3cr3t" not in repr(kafka)


@pytest.mark.parametrize(
    ("processing", "expected"),
    [
        ("guarantee: exactly_once, changelog: false", "needs processing.changelog: true"),
        ("guarantee: exactly_once, commit_interval_s: 0.05", "at least 0.1 s with exactly_once"),
        (
            "guarantee: exactly_once, commit_interval_s: 6",
            "transaction_timeout_ms: must be at least twice",
        ),
        ("guarantee: exactly_twice", "processing.guarantee"),
    ],
)
def test_exactly_once_settings_that_cannot_work_are_refused(
    tmp_path: Path, processing: str, expected: str
) -> None:
    assert expected in error_of(write(tmp_path, f"processing: {{{processing}}}"))


def test_exactly_once_down_to_a_100_ms_commit_interval(tmp_path: Path) -> None:
    text = "processing: {guarantee: exactly_once, commit_interval_s: 0.1}"
    processing = load_config(write(tmp_path, text), {}).processing
    assert (processing.guarantee, processing.commit_interval_s) == ("exactly_once", 0.1)
    env = {"TELEMETRY_PROCESSING__GUARANTEE": "exactly_once"}
    assert load_config(None, env).processing.guarantee == "exactly_once"


def test_plugin_kinds_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        processing:
          windows:
            - {kind: tumbling, size_ms: 10000}
            - {kind: sliding, size_ms: 60000, every_ms: 5000, percentiles: true}
          rules:
            - {kind: zscore, name: odd, sensor: t, k: 4, half_life: 20, warmup: 30}
            - {kind: zscore, name: odd2, sensor: t}
        """,
    )
    processing = load_config(path, {}).processing
    assert processing.windows == (
        Tumbling(size_ms=10_000),
        Sliding(size_ms=60_000, every_ms=5_000, percentiles=True),
    )
    assert processing.rules == (
        ZScoreRule(name="odd", sensor="t", k=4.0, half_life=20.0, warmup=30),
        ZScoreRule(name="odd2", sensor="t"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "processing: {windows: [{kind: sliding, size_ms: 1500}]}",
            "processing.windows[0]: size_ms (1500) must be a multiple of every_ms (1000;",
        ),
        (
            "processing: {windows: [{kind: sliding, size_ms: 1000, every_ms: 0}]}",
            "processing.windows[0].every_ms: must be > 0 (milliseconds), got 0",
        ),
        (
            "processing: {windows: [{kind: sliding}]}",
            "processing.windows[0].size_ms: missing (required for a sliding window)",
        ),
        (
            "processing: {windows: [{kind: sliding, size_ms: 1000, every: 5}]}",
            "processing.windows[0].every: unknown key for a sliding window",
        ),
        (
            "processing: {rules: [{kind: zscore, name: a, sensor: t, k: -1}]}",
            "processing.rules[0]: rule 'a': k must be > 0 (standard deviations), got -1.0",
        ),
        (
            "processing: {rules: [{kind: zscore, name: a, sensor: t, alpha: 2}]}",
            "processing.rules[0]: rule 'a': alpha must be in (0, 1], got 2.0",
        ),
        (
            "processing: {rules: [{kind: zscore, name: a, sensor: t, alpha: 0.1, half_life: 5}]}",
            "processing.rules[0]: rule 'a': give alpha or half_life, not both",
        ),
        (
            "processing: {rules: [{kind: zscore, name: a, sensor: t, warmup: 0}]}",
            "processing.rules[0]: rule 'a': warmup must be >= 1 (readings), got 0",
        ),
        (
            "processing: {rules: [{kind: zscore, name: a, sensor: t, k: high}]}",
            "processing.rules[0].k: expected a number, got a string 'high'",
        ),
        (
            "processing: {rules: [{kind: ewma, name: a, sensor: t}]}",
            (
                "processing.rules[0].kind: unknown rule kind 'ewma' (one of: threshold, "
                "rate_of_change, silent, zscore)"
            ),
        ),
    ],
)
def test_bad_plugin_parameters_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, text))
