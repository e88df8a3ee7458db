# Benchmarks (issue 8): `make bench` runs every scenario; see bench/README.md.
.PHONY: bench

BENCH_ARGS ?=

bench: $(INSTALLED)  ## benchmarks: W1 throughput vs a bare loop and changelog on/off, latency, memory, restore
	$(BIN)/python -m bench.harness $(BENCH_ARGS)
