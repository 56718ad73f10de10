PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint format schema schema-check bench bench-ingest bench-activity bench-insights bench-sessions bench-compiled bench-otlp bench-http load fault clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "usagegraph needs Python 3.11")'
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

bench: bench-ingest bench-activity bench-insights bench-sessions bench-compiled

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest_bench

bench-activity: $(STAMP)
	$(BIN)/python -m bench.activity_bench

bench-insights: $(STAMP)
	$(BIN)/python -m bench.insights_bench

bench-sessions: $(STAMP)
	$(BIN)/python -m bench.sessions_bench

bench-compiled: $(STAMP)
	$(BIN)/python -m bench.compiled_bench

## OTLP /v1/logs in batches of 512 against the same events through the ingest mutation.
bench-otlp: $(STAMP)
	$(BIN)/python -m bench.otlp_bench

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
