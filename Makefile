# The two commands: `make demo` runs the local demo, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help venv lint test demo kafka-fetch kafka-up kafka-down kafka-status clean

# Fragments: external tools (helm, promtool) and the benchmark harness.
-include tools.mk bench.mk

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $@

venv: $(INSTALLED)  ## create .venv with the package and its dev tools

lint: $(INSTALLED)  ## ruff (lint + format) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint kafka-fetch tools  ## everything: lint, types, unit and integration tests on a real broker
	$(BIN)/python -m pytest

DEMO_ARGS ?=

# The product does not start brokers: this target starts the local one (and stops it afterwards
# unless it was running before), then runs the demo on it. Ctrl-C drains the demo, then stops.
demo: $(INSTALLED)  ## the local demo: local broker, simulated fleet, processor (DEMO_ARGS=...)
	@set -e; running=1; scripts/kafka-local status 2>/dev/null || running=; \
	scripts/kafka-local start >/dev/null; \
	trap '[ -n "$$running" ] || scripts/kafka-local stop' EXIT; \
	$(BIN)/telemetry demo --bootstrap "$$(scripts/kafka-local bootstrap)" $(DEMO_ARGS)

kafka-fetch: $(INSTALLED)  ## download the pinned Apache Kafka jars (once, into ~/.cache)
	scripts/kafka-local fetch

kafka-up: $(INSTALLED)  ## start the local single-node KRaft broker on 127.0.0.1:9092
	scripts/kafka-local start

kafka-down:  ## stop the local broker
	scripts/kafka-local stop

kafka-status:  ## is the local broker running?
	scripts/kafka-local status

clean:  ## remove the virtualenv and caches (the Kafka jar cache stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
