# The newest supported Python found (3.13, 3.12 or 3.11); `make test PYTHON=... VENV=...` picks another.
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)-$(PYVER)

.PHONY: run test lint format schema schema-check bench bench-ingest bench-activity bench-insights bench-sessions bench-compiled bench-import bench-http load fault clean

$(STAMP): pyproject.toml
	@test -n "$(PYVER)" || { echo "usagegraph needs Python 3.11, 3.12 or 3.13 (with venv) on PATH or under pyenv"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13) and "usagegraph needs Python 3.11, 3.12 or 3.13")'
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYVER)" ]; then \
		echo "$(VENV) was made with another Python: making it anew with $(PYVER)"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## Run the server: embedded PostgreSQL, migrations, demo data on first start, GraphiQL.
run: $(STAMP)
	$(BIN)/usagegraph serve --demo

## Run the whole test suite against a real PostgreSQL (embedded unless USAGEGRAPH_TEST_DATABASE_URL).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/usagegraph export-schema > schema.graphql

schema-check: $(STAMP)
	$(BIN)/usagegraph export-schema | diff -u schema.graphql - && echo "schema.graphql is current"

bench: bench-ingest bench-import bench-activity bench-insights bench-sessions bench-compiled

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest_bench

## usagegraph import of a 1,000,000-event NDJSON history: bulk path and per-batch path side by side.
bench-import: $(STAMP)
	$(BIN)/python -m bench.import_bench

bench-activity: $(STAMP)
	$(BIN)/python -m bench.activity_bench

bench-insights: $(STAMP)
	$(BIN)/python -m bench.insights_bench

bench-sessions: $(STAMP)
	$(BIN)/python -m bench.sessions_bench

bench-compiled: $(STAMP)
	$(BIN)/python -m bench.compiled_bench

bench-http: $(STAMP)
	$(BIN)/python -m bench.http_bench

## Mixed dashboard + ingest load against `usagegraph serve --workers 2` (60 s, 32 clients).
load: $(STAMP)
	$(BIN)/python -m bench.load

## PostgreSQL restarted under load, and the server started with the database down.
fault: $(STAMP)
	$(BIN)/python -m bench.fault

clean:
	rm -rf $(VENV) .usagegraph-test .pytest_cache .mypy_cache .ruff_cache
