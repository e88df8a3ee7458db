"""A single-node Apache Kafka (KRaft, broker+controller) on 127.0.0.1, with no Docker.

The broker's jars are fetched once from Maven Central by Maven into a cache outside the repo;
the broker runs from them with Java 17. This module uses the standard library only, so
``scripts/kafka-local`` can run it before any virtualenv exists.

Environment:
    TELEMETRY_KAFKA_PORT             client port (default 9092; the controller uses port + 1)
    TELEMETRY_KAFKA_CONTROLLER_PORT  controller port override
    TELEMETRY_KAFKA_CACHE            jar cache (default ~/.cache/telemetry/kafka)
    TELEMETRY_KAFKA_HOME             runtime state: data, config, log, pid (default: in the cache)
    TELEMETRY_KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx768m")
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
# Kafka 4 logs through log4j2 behind slf4j 1.7; the binding is not a dependency of the jar.
LOG4J_VERSION = "2.24.3"
HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>telemetry.dev</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


class LocalKafkaError(RuntimeError):
    """The local development broker could not be fetched, started or stopped.

    Not a ``TelemetryError``: this is dev tooling, not part of the product's error tree."""


_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = {level}
"""


@dataclass(frozen=True)
class LocalKafkaSettings:
    """Where the local broker lives and listens; read from the environment at the edge."""

    port: int
    controller_port: int
    cache_dir: Path
    home: Path
    heap: str

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}" / "libs"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> LocalKafkaSettings:
        env = dict(os.environ if env is None else env)
        port = _port(env, "TELEMETRY_KAFKA_PORT", 9092)
        controller_port = _port(env, "TELEMETRY_KAFKA_CONTROLLER_PORT", port + 1)
        if controller_port == port:
            raise LocalKafkaError(
                f"TELEMETRY_KAFKA_CONTROLLER_PORT must differ from the client port {port}"
            )
        cache = Path(
            env.get("TELEMETRY_KAFKA_CACHE")
            or Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "telemetry" / "kafka"
        ).expanduser()
        home = Path(env.get("TELEMETRY_KAFKA_HOME") or cache / f"run-{port}").expanduser()
        heap = env.get("TELEMETRY_KAFKA_HEAP", "-Xms256m -Xmx768m")
        return cls(port, controller_port, cache, home, heap)


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LocalKafkaError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise LocalKafkaError(f"{name}={value} is outside 1..65535")
    return value


def _say(message: str) -> None:
    print(f"kafka-local: {message}", file=sys.stderr, flush=True)


class LocalKafka:
    """Fetch, start, stop and inspect the local development broker."""

    def __init__(self, settings: LocalKafkaSettings | None = None) -> None:
        self.settings = settings or LocalKafkaSettings.from_env()
        # Kept so that a broker started by this object is reaped by it, not left a zombie.
        self._process: subprocess.Popen[bytes] | None = None

    # -- fetch ---------------------------------------------------------------------------

    def is_fetched(self) -> bool:
        return (self.settings.libs_dir / ".complete").exists()

    def fetch(self) -> Path:
        """Download the pinned broker jars once; later calls reuse the cache."""
        libs = self.settings.libs_dir
        if self.is_fetched():
            return libs
        for tool in ("mvn", "java"):
            if shutil.which(tool) is None:
                raise LocalKafkaError(
                    f"`{tool}` is not on PATH: the local broker needs Java 17+ and Maven"
                )
        work = libs.parent / "fetch"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "pom.xml").write_text(
            _POM.format(scala=SCALA_VERSION, kafka=KAFKA_VERSION, log4j=LOG4J_VERSION)
        )
        staging = work / "libs"
        _say(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs}")
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(staging.glob("kafka_*.jar")):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise LocalKafkaError(f"Maven could not fetch the Kafka jars:\n{tail}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (libs / ".complete").write_text(KAFKA_VERSION + "\n")
        shutil.rmtree(work, ignore_errors=True)
        _say(f"fetched {sum(1 for _ in libs.glob('*.jar'))} jars")
        return libs

    def jar_version(self) -> str:
        """The version the fetched kafka-clients jar reports about itself."""
        jars = sorted(self.settings.libs_dir.glob("kafka-clients-*.jar"))
        if not jars:
            raise LocalKafkaError("kafka-clients jar missing from the cache; run fetch")
        with zipfile.ZipFile(jars[0]) as jar:
            text = jar.read("kafka/kafka-version.properties").decode()
        for line in text.splitlines():
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
        raise LocalKafkaError(f"no version in {jars[0].name}")

    # -- status ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of our broker if it is alive, else None (a stale pid file is removed)."""
        try:
            pid = int(self.settings.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid) and _is_kafka(pid):
            return pid
        self.settings.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.pid() is not None and api_versions_ok(HOST, self.settings.port)

    # -- start / stop ----------------------------------------------------------------------

    def start(self, *, fresh: bool = False, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the broker unless ours is already up; return True if this call started it."""
        s = self.settings
        if self.pid() is not None:
            if not api_versions_ok(HOST, s.port):
                _wait_ready(s.port, timeout, self)
            _say(f"already running: bootstrap {s.bootstrap}, Apache Kafka {self.jar_version()}")
            return False
        for port in (s.port, s.controller_port):
            if _port_in_use(port):
                raise LocalKafkaError(
                    f"port {HOST}:{port} is taken by another process; stop it, or choose "
                    "other ports with TELEMETRY_KAFKA_PORT / TELEMETRY_KAFKA_CONTROLLER_PORT"
                )
        if shutil.which("java") is None:
            raise LocalKafkaError("`java` is not on PATH: the local broker needs Java 17+")
        self.fetch()
        data = s.home / "data"
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
        s.home.mkdir(parents=True, exist_ok=True)
        config = self._write_config(data)
        classpath = str(s.libs_dir / "*")
        if not (data / "meta.properties").exists():
            shutil.rmtree(data, ignore_errors=True)
            formatted = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    f"-Dlog4j2.configurationFile={s.home / 'log4j2-tools.properties'}",
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    str(uuid.uuid4().hex[:22]),
                    "-c",
                    str(config),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if formatted.returncode != 0:
                raise LocalKafkaError(
                    f"formatting the KRaft log directory failed:\n{formatted.stdout}"
                    f"{formatted.stderr}"
                )
        gc_log = s.home / "gc.log"
        argv = [
            "java",
            *s.heap.split(),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            f"-Xlog:gc:file={gc_log}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={s.home / 'log4j2.properties'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ]
        with (s.home / "stdout.log").open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survive the shell that started it; stop by group
            )
        self._process = proc
        s.pid_file.write_text(f"{proc.pid}\n")
        try:
            _wait_ready(s.port, timeout, self, proc)
        except LocalKafkaError:
            self.stop()
            raise
        _say(f"started: bootstrap {s.bootstrap}, Apache Kafka {self.jar_version()}")
        return True

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop our broker (SIGTERM, then SIGKILL after ``timeout``); True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if _alive(pid):
            _say(f"broker pid {pid} ignored SIGTERM for {timeout:.0f}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                _reap(pid)
                time.sleep(0.05)
        if self._process is not None and self._process.pid == pid:
            self._process.wait()
            self._process = None
        _reap(pid)
        self.settings.pid_file.unlink(missing_ok=True)
        _say(f"stopped broker pid {pid}")
        return True

    def _write_config(self, data: Path) -> Path:
        s = self.settings
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{HOST}:{s.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{s.port},CONTROLLER://{HOST}:{s.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{s.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data),
            # One node: every internal topic must fit on it.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests join groups constantly; the default 3 s delay would dominate them.
            "group.initial.rebalance.delay.ms": "0",
            "transactional.id.expiration.ms": "3600000",
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "log.segment.bytes": str(256 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
            # The log cleaner allocates its dedupe buffer (128 MiB by default) in one piece at
            # start; in a small heap (the tests' second broker has 256 MiB) that can fail with
            # OutOfMemoryError. Compaction here only serves __consumer_offsets.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }
        config = s.home / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        (s.home / "log4j2.properties").write_text(_LOG4J2.format(log=s.log_file, level="INFO"))
        (s.home / "log4j2-tools.properties").write_text(
            _LOG4J2.format(log=s.home / "tools.log", level="WARN")
        )
        return config


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        # A zombie is dead for our purposes; its parent reaps it.
        return status.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _is_kafka(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid file
    return b"kafka.Kafka" in cmdline


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def api_versions_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if a Kafka broker answers an ApiVersions request (v0) on host:port."""
    client_id = b"telemetry-kafka-local"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 4)
            (size,) = struct.unpack(">i", header)
            payload = _recv_exact(sock, size)
    except OSError:
        return False
    correlation_id, error_code = struct.unpack_from(">ih", payload)
    return bool(correlation_id == 1 and error_code == 0)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def _wait_ready(
    port: int, timeout: float, kafka: LocalKafka, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LocalKafkaError(
                f"the broker exited with code {proc.returncode} during start; "
                f"see {kafka.settings.log_file} and {kafka.settings.home / 'stdout.log'}:\n"
                + _tail(kafka.settings.home / "stdout.log")
                + _tail(kafka.settings.log_file)
            )
        if api_versions_ok(HOST, port, timeout=1.0):
            return
        time.sleep(0.2)
    raise LocalKafkaError(
        f"the broker did not accept clients on {HOST}:{port} within {timeout:.0f}s; "
        f"see {kafka.settings.log_file}:\n" + _tail(kafka.settings.log_file)
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kafka-local",
        description=f"Single-node Apache Kafka {KAFKA_VERSION} (KRaft) on {HOST}, no Docker.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the pinned broker jars into the cache (once)")
    start = sub.add_parser("start", help="start the broker (fetching first if needed)")
    start.add_argument("--fresh", action="store_true", help="wipe the broker's data first")
    sub.add_parser("stop", help="stop the broker this script started")
    sub.add_parser("status", help="print whether the broker runs, and where")
    sub.add_parser("bootstrap", help="print the bootstrap address")
    args = parser.parse_args(argv)
    try:
        kafka = LocalKafka()
        if args.command == "fetch":
            kafka.fetch()
            _say(f"cache ready: {kafka.settings.libs_dir} (Apache Kafka {kafka.jar_version()})")
        elif args.command == "start":
            kafka.start(fresh=args.fresh)
            print(kafka.settings.bootstrap)
        elif args.command == "stop":
            if not kafka.stop():
                _say("not running")
        elif args.command == "status":
            pid = kafka.pid()
            if pid is None:
                _say(f"not running (port {kafka.settings.port})")
                return 3
            ready = "ready" if api_versions_ok(HOST, kafka.settings.port) else "starting"
            _say(f"running ({ready}): pid {pid}, bootstrap {kafka.settings.bootstrap}")
        else:
            print(kafka.settings.bootstrap)
    except LocalKafkaError as exc:
        _say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
