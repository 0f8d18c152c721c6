# The two commands a fresh machine needs: `make demo` (the main job) and `make test`.
# Each creates its own virtual environment (.venv) and installs everything else it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CACHE  ?= $(HOME)/.cache/modelslab-integrations
# uv installs the locked environment (uv.lock); it is itself pinned and cached per version.
UV_VERSION := 0.13.9
UV     := $(CACHE)/uv-$(UV_VERSION)/bin/uv
export UV_CACHE_DIR ?= $(CACHE)/uv
export UV_PYTHON_DOWNLOADS := never
export PIP_NO_WARN_SCRIPT_LOCATION := 1

.PHONY: demo test docs docs-check matrix newest lock upgrade lint typecheck unit real-server redis-server llama-server llama-stop standin notebooks bench bench-limiter clean venv

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(CACHE)/uv-$(UV_VERSION)"
	@rm -rf $(CACHE)/uv-$(UV_VERSION) && $(PYTHON) -m venv $(CACHE)/uv-$(UV_VERSION)
	@$(CACHE)/uv-$(UV_VERSION)/bin/python -m pip --disable-pip-version-check -q install "uv==$(UV_VERSION)" 2>&1 | grep -v "^WARNING: Location" || true
	@test -x $(UV)

## The development environment is exactly uv.lock (every extra, the dev group): a fresh clone
## tests what the last green run tested. `make upgrade` moves the lock.
$(STAMP): pyproject.toml uv.lock | $(UV)
	@echo "==> syncing $(VENV) with uv.lock"
	@$(UV) sync --locked --extra all --python $(PYTHON) -q
	@$(BIN)/python -c "import langchain_modelslab, llama_index_modelslab, langchain_tests, hypothesis"
	@touch $(STAMP)

venv: $(STAMP)

## The main job: a demo through both adapters on a real local model (no API key needed).
demo: $(STAMP) real-server
	@$(BIN)/python scripts/demo.py

## All tests: lint, types, the strict docs build, the support matrix, the stand-in suites, the
## real-model tests and the notebooks.
test: $(STAMP) lint typecheck docs-check redis-server matrix real-server
	@$(BIN)/python -m pytest

## The support matrix (noxfile.py, uv venvs): the stand-in suites on the lowest allowed
## dependencies (Python 3.10, locks/) and on uv.lock's (Python 3.13). Venvs and uv's cache live
## in ~/.cache/modelslab-integrations/matrix/ and are synced only when a lock changes.
matrix: $(STAMP) redis-server
	@$(BIN)/nox --non-interactive

## For upgrades: the stand-in suites on the newest versions released today (not locked).
newest: $(STAMP) redis-server
	@$(BIN)/nox --non-interactive -s newest

## Re-resolve after a dependency change in pyproject.toml, keeping every pin that still fits.
lock: | $(UV)
	@$(UV) lock --python $(PYTHON)
	@$(MAKE) --no-print-directory $(STAMP)
	@$(BIN)/nox --non-interactive -s lock

## Move every lock to the newest versions that fit, then run all the suites on them.
upgrade: | $(UV)
	@$(UV) lock --upgrade --python $(PYTHON)
	@$(MAKE) --no-print-directory $(STAMP)
	@$(BIN)/nox --non-interactive -s lock -- --upgrade
	@$(MAKE) --no-print-directory test

## The docs site (mkdocs.yml) into site/; offline, the notebooks rendered but not executed.
docs: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build

## The same build with --strict: a broken link, nav entry or API reference fails it.
docs-check: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(CURDIR)/.cache/site-check

## Build llama.cpp's llama-server (once per machine, cached) and assemble the model.
real-server:
	@command -v cmake >/dev/null && command -v ninja >/dev/null && command -v g++ >/dev/null || \
	  { echo "==> installing cmake, ninja and g++ (needed once to build llama-server)"; \
	    (apt-get update -qq && apt-get install -y -qq cmake ninja-build g++ >/dev/null) || \
	    { echo "could not install cmake/ninja-build/g++: install them and retry"; exit 1; }; }
	@$(PYTHON) scripts/llama_server.py build
	@$(PYTHON) scripts/llama_server.py model

## The redis-server binary the shared-limit tests start themselves (nothing runs as a service):
## Debian's redis-tools ships it (as redis-check-rdb, started under the name redis-server).
redis-server:
	@test -n "$$MODELSLAB_REDIS_SERVER" || command -v redis-server >/dev/null || \
	  test -x /usr/bin/redis-check-rdb || \
	  { echo "==> installing redis-tools (the redis-server binary for the shared-limit tests)"; \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-tools >/dev/null) || \
	    { echo "could not install redis-tools: install Redis (redis-server) and retry"; exit 1; }; }

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check modelslab_core langchain_modelslab llama_index_modelslab

typecheck: $(STAMP)
	@$(BIN)/mypy

## Only the fast tests against the stand-in (no real model).
unit: $(STAMP) redis-server
	@$(BIN)/python -m pytest -m "not real_model"

llama-server: $(STAMP)
	@$(BIN)/python scripts/llama_server.py start

llama-stop:
	@$(PYTHON) scripts/llama_server.py stop

standin: $(STAMP)
	@$(BIN)/python -m modelslab_core.testing --port 8765 --api-key test-key

## After editing a notebook's .py source: sync its .ipynb (jupytext) and run it, keeping the
## outputs (the tutorials on the local model, the worked examples on the stand-in).
notebooks: $(STAMP) real-server redis-server
	@$(BIN)/python scripts/run_notebooks.py

bench: $(STAMP)
	@$(BIN)/python benchmarks/run.py

## The shared (Redis) in-flight limit: overhead per request and throughput of 4 processes.
bench-limiter: $(STAMP) redis-server
	@$(BIN)/python benchmarks/limiter.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache site
