# capgraph: `make help` lists the targets.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := .uv/bin/uv
PY := .venv/bin/python
DATA_DIR ?= $(or $(CAPGRAPH_DATA_DIR),$(HOME)/.local/share/capgraph)
SEEDS := $(wildcard ../shared/seeds/*.passport.json)

CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help setup browser nginx serve test check lint typecheck imports ci bench fuzz clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv .uv
	.uv/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet
	touch $@

setup: .venv/.synced ## Create .venv with the locked dependencies

serve: setup ## Start the service on 127.0.0.1:8000 with demo data (and the seeds, if ../shared is here)
	.venv/bin/capgraph --data-dir "$(DATA_DIR)" demo
	@if [ -n "$(SEEDS)" ]; then .venv/bin/capgraph --data-dir "$(DATA_DIR)" import $(SEEDS); fi
	.venv/bin/capgraph --data-dir "$(DATA_DIR)" serve

browser: ## Install Debian's Chromium for the browser tests when it is missing (as .ci/run does)
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium for the browser tests (tests/e2e)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

nginx: ## Install Debian's nginx for the static read path's test when it is missing (as .ci/run does)
	@if [ ! -x "$(NGINX)" ]; then \
	  echo "installing Debian's nginx-light for tests/integration/test_static_path.py"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light; \
	fi

test: setup browser nginx ## Run the whole test suite (two workers, a test file per worker at a time)
	.venv/bin/pytest -q -n 2 --dist loadfile

lint: setup ## ruff
	.venv/bin/ruff check src tests bench

typecheck: setup ## mypy --strict on src/
	.venv/bin/mypy

imports: setup ## The import rule (import-linter contracts in pyproject.toml)
	.venv/bin/lint-imports

check: lint typecheck imports ## Lint, type-check and check the import rule

ci: check test ## What .ci/run runs

bench: setup ## Run the benchmarks (see BENCHMARKS.md)
	bash bench/run_all.sh

fuzz: setup ## schemathesis, all checks, whole OpenAPI document, 300 examples per operation
	bash bench/fuzz_api.sh 300

clean: ## Remove the environments and caches
	rm -rf .venv .uv .pytest_cache .mypy_cache .ruff_cache
