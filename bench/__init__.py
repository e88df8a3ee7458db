"""Benchmarks: the harness (``python -m bench.harness``) and single-purpose micro-benchmarks."""
