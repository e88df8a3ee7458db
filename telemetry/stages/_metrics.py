"""Prometheus metrics of the engine; one set per pipeline, registry injected."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class StageMetrics:
    """Label-bound children for one stage, resolved once so the hot path skips label lookup."""

    events_in: Counter
    events_out: Counter
    buffered: Gauge
    demand: Gauge
    restarted: Counter
    escalated: Counter


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._in = Counter(
            "telemetry_stage_events_in",
            "Events a stage consumed from its inbox.",
            ["stage"],
            registry=registry,
        )
        self._out = Counter(
            "telemetry_stage_events_out",
            "Events a stage emitted into its output buffer.",
            ["stage"],
            registry=registry,
        )
        self._buffered = Gauge(
            "telemetry_stage_buffered_events",
            "Events held by a stage: inbox plus output buffer.",
            ["stage"],
            registry=registry,
        )
        self._demand = Gauge(
            "telemetry_stage_demand_events",
            "Outstanding demand a stage has asked of its producers.",
            ["stage"],
            registry=registry,
        )
        self._failures = Counter(
            "telemetry_stage_failures",
            "Stage callback failures, by the supervision action taken.",
            ["stage", "action"],
            registry=registry,
        )

    def for_stage(self, name: str) -> StageMetrics:
        return StageMetrics(
            events_in=self._in.labels(name),
            events_out=self._out.labels(name),
            buffered=self._buffered.labels(name),
            demand=self._demand.labels(name),
            restarted=self._failures.labels(name, "restarted"),
            escalated=self._failures.labels(name, "escalated"),
        )
