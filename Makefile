# aiinfn_hub: `make demo`, `make test`, `make bench`. Each installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests and the demo need (installed with apt when root and missing).
SYSTEM_PACKAGES ?= chromium
# Re-install when the dependency list or the pins change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: help install system-deps chp labextension test-js test-ui screenshots demo test lint bench format clean cluster test-cluster

help:
	@echo "make demo   start the whole system on the sandbox and print the URL to open"
	@echo "make test   install what is needed and run every test"
	@echo "make bench  run the benchmarks and print figures"
	@echo "make test-cluster  build the real control plane (once) and run the suites on it"

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

install: $(STAMP) labextension

# configurable-http-proxy 5.3.0 for the hub on the sandbox (demo, tests, benchmarks): npm ci from
# tools/chp's lockfile, again whenever the lockfile changes.
CHP_STAMP := tools/chp/node_modules/.installed-$(shell cat tools/chp/package-lock.json | sha1sum | cut -c1-12)

$(CHP_STAMP): tools/chp/package.json tools/chp/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm (Node 20) is needed for configurable-http-proxy"; exit 1; }
	cd tools/chp && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

chp: $(CHP_STAMP)

# The JupyterLab panel (labextension/): yarn through jlpm from the installed JupyterLab, exactly
# the committed yarn.lock; built into aiinfn_hub/labextension (what the wheel ships) and copied
# into the venv's labextensions, which the editable install does not keep up to date.
LABEXT := labextension
LABEXT_OUT := aiinfn_hub/labextension
LABEXT_BUILT := $(LABEXT_OUT)/static/style.js
LABEXT_DEPS := $(LABEXT)/node_modules/.installed-$(shell cat $(LABEXT)/package.json $(LABEXT)/yarn.lock | sha1sum | cut -c1-12)
LABEXT_SOURCES := $(shell find $(LABEXT)/src $(LABEXT)/style $(LABEXT)/schema -type f) $(LABEXT)/package.json $(LABEXT)/tsconfig.json
LABEXT_INSTALLED := $(VENV)/share/jupyter/labextensions/aiinfn-hub/.installed
JLPM := PATH="$(CURDIR)/$(BIN):$$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(CURDIR)/$(BIN)/jlpm

$(LABEXT_DEPS): $(LABEXT)/package.json $(LABEXT)/yarn.lock | $(STAMP)
	cd $(LABEXT) && $(JLPM) install --immutable
	@rm -f $(LABEXT)/node_modules/.installed-*
	@touch $@

$(LABEXT_BUILT): $(LABEXT_SOURCES) $(LABEXT_DEPS)
	cd $(LABEXT) && $(JLPM) build:prod

$(LABEXT_INSTALLED): $(LABEXT_BUILT) $(STAMP)
	@rm -rf $(@D) && mkdir -p $(@D) && cp -r $(LABEXT_OUT)/. $(@D) && touch $@

labextension: $(LABEXT_INSTALLED)

# jest for the panel's logic; galata (Playwright) in Debian's headless Chromium for its flows.
test-js: install
	cd $(LABEXT) && $(JLPM) jest

test-ui: install chp
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python $(JLPM) test:ui
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python $(JLPM) test:hub
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python $(JLPM) test:place

# Retake the README's screenshots (labextension/ui-tests/screenshots/) with the browser tests.
screenshots: install chp
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python AIINFN_SCREENSHOTS_DIR=ui-tests/screenshots $(JLPM) test:ui
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python AIINFN_SCREENSHOTS_DIR=ui-tests/screenshots $(JLPM) test:hub
	cd $(LABEXT) && CI=1 AIINFN_PYTHON=$(CURDIR)/$(BIN)/python AIINFN_SCREENSHOTS_DIR=ui-tests/screenshots $(JLPM) test:place

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd $(LABEXT) && $(JLPM) lint:check

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	cd $(LABEXT) && $(JLPM) prettier

test: install lint chp
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory test-js test-ui

# The real control plane (aiinfn-hub cluster): kube-apiserver, controller-manager, scheduler,
# etcd, Kueue and the interLink virtual kubelet, built from the Go module proxy into
# ~/.cache/aiinfn-hub/cluster/<hash of the pins> (nothing is built when that is complete).
cluster: install
	$(BIN)/aiinfn-hub cluster build

# The contract suite and the real-stack tests on the real control plane: `cluster run` starts
# it, runs pytest with KUBECONFIG pointing at it, and stops it.
test-cluster: install chp cluster
	$(BIN)/aiinfn-hub cluster run --state-dir .cluster/test -- \
	  $(BIN)/python -m pytest -p no:cacheprovider -m "contract or cluster" tests/contract tests/cluster

# Options for the demo, e.g. make demo DEMO_ARGS="--port 8001 --fault provider-failure:tier1"
DEMO_ARGS ?=

# --stop-with-parent: make passes neither SIGINT nor SIGTERM sent to its own process on to the
# recipe, so the demo follows make's signals itself (aiinfn_hub/parentsignals.py); `exec` makes
# make its parent even when DEMO_ARGS needs a shell.
demo: install chp
	exec $(BIN)/aiinfn-hub demo --stop-with-parent $(DEMO_ARGS)

# bench_stacks measures the real control plane beside the sandbox: it is built first (once).
bench: install chp cluster
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .cluster .pytest_cache .ruff_cache .hypothesis build dist tools/chp/node_modules \
	  $(LABEXT)/node_modules $(LABEXT)/lib $(LABEXT)/ui-tests/test-results $(LABEXT)/ui-tests/.state $(LABEXT_OUT)
