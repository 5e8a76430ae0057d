# relayml: two commands for a newcomer: `make demo` and `make test`.
PY ?= python3
# Python writes the bytecode of what it imports (.pyc, once) for everything make runs: with
# PYTHONDONTWRITEBYTECODE set (as in some CI images) every `relay` process the tests and the demo
# start compiled its imports from source again (a CLI call 2.3 s instead of 1.0 s).
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
SRC := $(wildcard src tests benchmarks examples)

.PHONY: demo test bench lint format install provision clean lock

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip setuptools wheel

# The development and test environment is pinned by requirements/dev.lock (pyproject.toml keeps
# ranges for the library's users); `make lock` re-resolves it on purpose.
LOCK := requirements/dev.lock

# uv installs the pinned set (pip would take minutes); it comes from the registry like the rest.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install --python $(BIN)/python -q -c $(LOCK) -e '.[dev]'
	touch $@

# The web pages' browser libraries, from the npm registry through web/package-lock.json (never committed).
ASSETS := src/relayml/web/static/vendor/.lock-sha256
$(ASSETS): web/package-lock.json
	bash scripts/build-web-assets.sh

install: $(STAMP) $(ASSETS)

# What the test suites need, installed only when missing: PostgreSQL and Chromium from Debian,
# the real MLflow clients (3.x and 2.x) in their own venvs.
provision: install
	bash scripts/provision-test-deps.sh
	bash scripts/provision-mlflow-clients.sh

lint: install
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

# Both cores: one xdist worker per core, each test file on one worker (its fixtures stay whole).
# The type check (about a minute on a fresh clone) runs beside the tests instead of before them;
# either failing fails the target, and the type check's output is printed once both are done.
test: install provision
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	@# byte-code for the hundreds of interpreters the tests start, even under PYTHONDONTWRITEBYTECODE
	$(BIN)/python -m compileall -q -j 2 src tests > /dev/null
	@$(BIN)/mypy > .mypy.out 2>&1 & typecheck=$$!; \
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25; tests=$$?; \
	wait $$typecheck; types=$$?; cat .mypy.out; rm -f .mypy.out; \
	if [ $$types -ne 0 ]; then echo "make test: the type check (mypy) failed, see above"; fi; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]

demo: install
	$(BIN)/relay demo

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -c $(LOCK) -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/tracking.py
	$(BIN)/python benchmarks/pipelines.py
	$(BIN)/python benchmarks/profile.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/cli.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/features_online.py
	$(BIN)/python benchmarks/dashboard.py
	bash scripts/provision-mlflow-clients.sh
	$(BIN)/python benchmarks/mlflow_compat.py

lock: | $(BIN)/python
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --upgrade -o $(LOCK)

clean:
	rm -rf $(VENV) .relay benchmarks/.work .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
