# relayml: two commands for a newcomer: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
SRC := $(wildcard src tests benchmarks examples)

.PHONY: demo test bench lint format install provision clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# System packages the test suites need (PostgreSQL from Debian), installed only when missing.
provision:
	bash scripts/provision-test-deps.sh

lint: install
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

test: install provision lint
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python examples/churn_demo.py

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/tracking.py
	$(BIN)/python benchmarks/pipelines.py
	$(BIN)/python benchmarks/profile.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/drift.py

clean:
	rm -rf $(VENV) .relay benchmarks/.work .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
