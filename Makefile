# The two commands of the README: `make dev` and `make test`. Everything they
# need (virtualenv, Python packages, the local KServe cluster's binaries and the
# func CLI) is set up on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_KUBECONFIG := .dev/kubeconfig
DEV_ADDRESS ?= 127.0.0.1:8080
# Knative Eventing in `make dev`: the project's Broker and Triggers (k8s/eventing/)
# deliver to the API; `make dev DEV_EVENTING=` starts the cluster without it.
DEV_EVENTING ?= --with-eventing --event-subscriber http://$(DEV_ADDRESS)/
AUTH_MODE ?= none
# text: today's log lines; json: one JSON object per line, as in the k8s/ manifests.
LOG_FORMAT ?= text
# The browser tests drive Debian's Chromium through Debian's chromedriver (same
# build) and inject axe-core, installed from tests/browser/package-lock.json.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
BROWSER_STAMP := tests/browser/node_modules/.installed
# $(call apt_install,PACKAGES): install Debian's PACKAGES (CI runs as root), or
# say what to install when not root.
apt_install = if [ "$$(id -u)" != 0 ]; then \
		echo "error: the browser tests need Debian's $(1): run 'apt-get install $(1)' as root, or make as root" >&2; \
		exit 1; \
	fi; \
	set -x; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(1)

.PHONY: dev test lint typecheck unit console-unit integration binaries browser versions clean

$(STAMP): pyproject.toml lib/pyproject.toml tools/controlplane/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 needed, $(PYTHON) is " + sys.version.split()[0] + ": set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/pip install --quiet --disable-pip-version-check --group dev -e './lib[mcp]' -e ./tools/controlplane
	@touch $@

## binaries: build etcd, the Kubernetes components, kwok, the KServe controller, func,
## prometheus, promtool and Knative Eventing from Go modules (once; cached by version)
binaries: $(STAMP)
	$(BIN)/python -m controlplane build

## browser: what the browser tests need: Debian's chromium and chromium-driver
## (apt-get, as root, when missing) and axe-core (npm ci, from the lockfile)
browser: $(BROWSER_STAMP)
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		$(call apt_install,chromium chromium-driver fonts-liberation); \
	fi

# npm stamps the files it unpacks with a fixed old time, hence a stamp of our own.
$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@if ! command -v npm >/dev/null; then \
		$(call apt_install,npm); \
	fi
	cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

versions: $(STAMP)
	$(BIN)/python -m controlplane versions

## dev: the local KServe cluster (kubeconfig in .dev/kubeconfig) and the API on
## http://$(DEV_ADDRESS), until Ctrl-C
dev: binaries
	$(BIN)/python -m controlplane up --kubeconfig $(DEV_KUBECONFIG) $(DEV_EVENTING) -- \
		env LISTEN_ADDRESS=$(DEV_ADDRESS) AUTH_MODE=$(AUTH_MODE) LOG_FORMAT=$(LOG_FORMAT) $(BIN)/python tools/dev/serve_root.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy
	@# Every function package is named "function", so each is checked on its own.
	for f in functions/*/; do (cd $$f && ../../$(BIN)/mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache function) || exit 1; done

unit: $(STAMP) console-unit
	$(BIN)/pytest tests/unit

## console-unit: the console's JavaScript: every module parses, and its unit tests
## (Node.js's own test runner)
console-unit:
	for f in lib/src/kserve_functions/console/static/*.js; do node --check $$f || exit 1; done
	node --test tests/console/

integration: binaries browser
	$(BIN)/pytest tests/integration

## test: lint, type-check, then every test tier against a real control plane
## (the console's tests in headless Chromium among them)
test: lint typecheck console-unit binaries browser
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .dev .mypy_cache .ruff_cache .pytest_cache .test-artifacts tests/browser/node_modules
