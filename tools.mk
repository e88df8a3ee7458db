# External tools for the chart and alert-rule tests (tests/chart): helm (built from the Go module
# proxy) and promtool (Debian's prometheus package). Included from the Makefile.
TOOLS_DIR ?= $(HOME)/.cache/telemetry/tools

.PHONY: tools tools-clean

tools:  ## install helm and promtool for the chart tests (once, into ~/.cache/telemetry/tools)
	TELEMETRY_TOOLS_DIR=$(TOOLS_DIR) scripts/install-tools

tools-clean:  ## remove the cached helm binary (promtool stays: it is a system package)
	rm -rf $(TOOLS_DIR)
