# Benchmarks (issue 8): `make bench` runs every scenario; see bench/README.md.
.PHONY: bench

BENCH_ARGS ?=

bench: $(INSTALLED)  ## benchmarks: W1 throughput vs a bare loop, alert latency, memory under backlog
	$(BIN)/python -m bench.harness $(BENCH_ARGS)
