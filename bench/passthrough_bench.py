"""Pass-through overhead: the engine (source -> forward -> sink) against a bare confluent-kafka
consume+produce loop, on the same broker, same input, in the same run.

    .venv/bin/python bench/passthrough_bench.py [--records 1000000] [--rounds 2]

Starts the local broker when TELEMETRY_BENCH_BOOTSTRAP is not set. Events/s are measured from
the first consumed record to the last delivery report, so the group join is excluded.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry

from tests.support import forwarding_pipeline
from tools.localkafka import LocalKafka

PARTITIONS = 8


def _create(bootstrap: str, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(n, num_partitions=PARTITIONS, replication_factor=1) for n in names]
    for future in admin.create_topics(topics).values():
        future.result(30)


def _fill(bootstrap: str, topic: str, records: int) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.num.messages": 10_000}
    )
    payload = b"x" * 60  # about the size of a framed SensorReading
    for i in range(records):
        while True:
            try:
                producer.produce(topic, payload, f"device-{i % 5000}".encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def bare_loop(bootstrap: str, source: str, sink: str, records: int) -> float:
    """The practical ceiling: batched consume, produce, poll, commit at the end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 1,
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    consumer.subscribe([source])
    delivered = 0

    def report(error: KafkaError | None, message: Message) -> None:
        nonlocal delivered
        del message
        if error is None:
            delivered += 1

    consumed = 0
    started = 0.0
    while consumed < records:
        batch = consumer.consume(num_messages=5_000, timeout=0.1)
        if batch and not started:
            started = time.perf_counter()
        for message in batch:
            while True:
                try:
                    producer.produce(sink, message.value(), message.key(), on_delivery=report)
                    break
                except BufferError:
                    producer.poll(0.01)
        consumed += len(batch)
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    consumer.commit(asynchronous=False)
    consumer.close()
    if delivered != records:
        raise SystemExit(f"bare loop delivered {delivered} of {records}")
    return records / elapsed


def engine(bootstrap: str, source: str, sink: str, records: int) -> float:
    registry = CollectorRegistry()
    pipeline, _, _ = forwarding_pipeline(
        bootstrap=bootstrap,
        group=f"engine-{uuid.uuid4().hex[:6]}",
        input_topic=source,
        output_topic=sink,
        registry=registry,
    )

    def value(name: str, stage: str) -> float:
        return registry.get_sample_value(name, {"stage": stage}) or 0.0

    pipeline.start()
    while value("telemetry_kafka_consumed_messages_total", "source") == 0:
        pipeline.run_once()
    started = time.perf_counter()
    while value("telemetry_kafka_produced_messages_total", "sink") < records:
        pipeline.run_once()
    elapsed = time.perf_counter() - started
    pipeline.drain(30)
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    kafka = LocalKafka()
    started = kafka.start()
    bootstrap = kafka.settings.bootstrap
    try:
        source = f"bench-pass-{uuid.uuid4().hex[:6]}"
        _create(bootstrap, source)
        _fill(bootstrap, source, args.records)
        bare: list[float] = []
        ours: list[float] = []
        for round_ in range(args.rounds):
            for name, run, results in (("bare", bare_loop, bare), ("engine", engine, ours)):
                out = f"{source}-{name}-{round_}"
                _create(bootstrap, out)
                rate = run(bootstrap, source, out, args.records)
                results.append(rate)
                print(f"round {round_ + 1} {name:>6}: {rate:>10,.0f} events/s")
        b, e = statistics.median(bare), statistics.median(ours)
        print(f"median bare {b:,.0f}/s, engine {e:,.0f}/s, engine/bare = {e / b:.2f}")
    finally:
        if started:
            kafka.stop()


if __name__ == "__main__":
    main()
