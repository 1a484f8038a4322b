# aiinfn_hub: `make demo`, `make test`, `make bench`. Each installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests and the demo need (installed with apt when root and missing).
SYSTEM_PACKAGES ?=
# Re-install when the dependency list or the pins change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: help install system-deps chp demo test lint bench format clean

help:
	@echo "make demo   start the whole system on the sandbox and print the URL to open"
	@echo "make test   install what is needed and run every test"
	@echo "make bench  run the benchmarks and print figures"

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (install them as root)"; exit 1; fi; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt hatchling hatch-jupyter-builder editables
	SKIP_JUPYTER_BUILDER=1 $(BIN)/python -m pip install -q --no-build-isolation -c constraints.txt -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# configurable-http-proxy 5.3.0 for the hub on the sandbox (demo, tests, benchmarks): npm ci from
# tools/chp's lockfile, again whenever the lockfile changes.
CHP_STAMP := tools/chp/node_modules/.installed-$(shell cat tools/chp/package-lock.json | sha1sum | cut -c1-12)

$(CHP_STAMP): tools/chp/package.json tools/chp/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm (Node 20) is needed for configurable-http-proxy"; exit 1; }
	cd tools/chp && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

chp: $(CHP_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint chp
	$(BIN)/python -m pytest

demo: install chp
	$(BIN)/aiinfn-hub demo

bench: install chp
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist tools/chp/node_modules
