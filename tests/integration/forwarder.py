"""A forwarding processor run as its own process, so tests can SIGKILL and SIGTERM it.

python -m tests.integration.forwarder BOOTSTRAP GROUP INPUT OUTPUT [--rate N]
SIGTERM/SIGINT drain in-flight work, commit and exit 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from telemetry.kafka import KafkaSink
from tests.support import forwarding_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("group")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s through the sink")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    sink = KafkaSink(
        name="sink",
        config={"bootstrap.servers": args.bootstrap},
        rate_limit=args.rate or None,
        window=2_000,
    )
    pipeline, _, _ = forwarding_pipeline(
        bootstrap=args.bootstrap,
        group=args.group,
        input_topic=args.input,
        output_topic=args.output,
        sink=sink,
        consumer_config={"session.timeout.ms": 10_000, "heartbeat.interval.ms": 1_000},
        max_demand=1_000,
    )

    def drain(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        sink.set_rate_limit(None)
        pipeline.request_drain(20.0)

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    pipeline.run(until=lambda: False)
    logging.getLogger("telemetry").info("forwarder drained and stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
