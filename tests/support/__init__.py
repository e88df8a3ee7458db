"""Pipelines the tests and benchmarks wire from the product's stages (not shipped)."""

from tests.support.decode import DecodePipeline, decode_pipeline
from tests.support.forward import Forward, forwarding_pipeline

__all__ = ["DecodePipeline", "Forward", "decode_pipeline", "forwarding_pipeline"]
