"""Development tooling, outside the ``telemetry`` wheel: the local Kafka broker launcher.

Standard library only, so ``scripts/kafka-local`` runs it on a bare interpreter.
"""
