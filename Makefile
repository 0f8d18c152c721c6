# The two commands a fresh machine needs: `make demo` (the main job) and `make test`.
# Each creates its own virtual environment (.venv) and installs everything else it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
export PIP_NO_WARN_SCRIPT_LOCATION := 1

.PHONY: demo test matrix lint typecheck unit real-server redis-server llama-server llama-stop standin bench bench-limiter clean venv

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing the package with its dev group"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -U "pip>=25.1" 2>&1 | grep -v "^WARNING: Location" || true
	@$(PIP) install -e ".[all,aiohttp]" --group dev 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import langchain_modelslab, llama_index_modelslab, langchain_tests, hypothesis"
	@touch $(STAMP)

venv: $(STAMP)

## The main job: a demo through both adapters on a real local model (no API key needed).
demo: $(STAMP) real-server
	@$(BIN)/python scripts/demo.py

## All tests: lint, types, the support matrix, the stand-in suites, the real-model tests and the
## notebooks.
test: $(STAMP) lint typecheck redis-server matrix real-server
	@$(BIN)/python -m pytest

## The support matrix (noxfile.py, uv venvs): the stand-in suites on the lowest allowed
## dependencies (Python 3.10) and on the newest (Python 3.13). Venvs, locks and uv's cache live
## in ~/.cache/modelslab-integrations/matrix/ and are synced only when the versions change.
matrix: $(STAMP) redis-server
	@$(BIN)/nox --non-interactive

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

bench: $(STAMP)
	@$(BIN)/python benchmarks/run.py

## The shared (Redis) in-flight limit: overhead per request and throughput of 4 processes.
bench-limiter: $(STAMP) redis-server
	@$(BIN)/python benchmarks/limiter.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
