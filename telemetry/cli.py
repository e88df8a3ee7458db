"""The ``telemetry`` command line."""

from __future__ import annotations

import argparse
import sys

from confluent_kafka.admin import AdminClient

from telemetry import __version__
from telemetry.errors import TelemetryError
from telemetry.localkafka import LocalKafka


def _demo(args: argparse.Namespace) -> int:
    # Until the processor lands, the demo proves the embedded default works end to end:
    # the local broker starts and a real Kafka client reaches it.
    kafka = LocalKafka()
    started = kafka.start()
    try:
        admin = AdminClient({"bootstrap.servers": kafka.settings.bootstrap})
        metadata = admin.list_topics(timeout=10)
        brokers = ", ".join(str(b) for b in metadata.brokers.values())
        print(
            f"Apache Kafka {kafka.jar_version()} reachable at {kafka.settings.bootstrap} "
            f"(brokers: {brokers}; topics: {len(metadata.topics)})"
        )
    finally:
        if started and not args.keep_broker:
            kafka.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telemetry",
        description="Demand-driven Kafka stream processor for IoT sensor telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"telemetry {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the local demo on the embedded broker")
    demo.add_argument(
        "--keep-broker", action="store_true", help="leave the local broker running afterwards"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except TelemetryError as exc:
        print(f"telemetry: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
