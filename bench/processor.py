"""The real processor (``App``) run in-process, with a throttled sink or under cProfile.

    python -m bench.processor --config FILE [--sink-rate N] [--profile OUT --outputs N]

``--sink-rate``: ``processing.sink_rate_limit``, at most N outputs/s (the slow-downstream stand-in
of the memory-under-backlog scenario). ``--profile``: run
under cProfile until ``--outputs`` records were delivered, then write pstats to OUT.
SIGTERM drains and exits, like ``telemetry run``.
"""

from __future__ import annotations

import argparse
import cProfile
import signal
import sys
from dataclasses import replace
from types import FrameType

from telemetry.app import App
from telemetry.config import load_config
from telemetry.http import MetricsServer
from telemetry.logs import configure_logging


def build(config_path: str, sink_rate: float) -> App:
    config = load_config(config_path)
    configure_logging(config.log)
    if sink_rate > 0:
        config = replace(config, processing=replace(config.processing, sink_rate_limit=sink_rate))
    return App(config)


def profile(app: App, outputs: int, out: str) -> None:
    """Run until ``outputs`` records were produced; write cProfile stats to ``out``."""
    passes = 0

    def done() -> bool:
        nonlocal passes
        passes += 1
        if passes % 64:
            return False
        produced = app.registry.get_sample_value(
            "telemetry_kafka_produced_messages_total", {"stage": "sink"}
        )
        return (produced or 0.0) >= outputs

    profiler = cProfile.Profile()
    profiler.enable()
    app.run(until=done)  # then drains, as on SIGTERM
    profiler.disable()
    profiler.dump_stats(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--sink-rate", type=float, default=0.0)
    parser.add_argument("--profile")
    parser.add_argument("--outputs", type=int, default=0)
    args = parser.parse_args(argv)
    app = build(args.config, args.sink_rate)
    if args.profile:
        profile(app, args.outputs, args.profile)
        return 0
    server = MetricsServer(app, app.config.metrics).start()

    def on_term(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        app.request_drain()

    signal.signal(signal.SIGTERM, on_term)
    try:
        app.run()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
