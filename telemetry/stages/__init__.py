"""Demand-driven stage engine (GenStage semantics), single-threaded and batch-oriented.

Sources emit only what downstream demanded, processors transform batches while their output
buffer has room, sinks consume; a :class:`Pipeline` wires them with subscriptions and runs them.
The engine knows nothing of Kafka.
"""

from telemetry.stages._budget import StopBudget
from telemetry.stages._dispatchers import (
    BroadcastDispatcher,
    DemandDispatcher,
    Dispatcher,
    PartitionDispatcher,
)
from telemetry.stages._pipeline import Pipeline
from telemetry.stages._stage import Processor, Sink, Source, Stage
from telemetry.stages._subscription import Subscription
from telemetry.stages._supervision import Supervision

__all__ = [
    "BroadcastDispatcher",
    "DemandDispatcher",
    "Dispatcher",
    "PartitionDispatcher",
    "Pipeline",
    "Processor",
    "Sink",
    "Source",
    "Stage",
    "StopBudget",
    "Subscription",
    "Supervision",
]
