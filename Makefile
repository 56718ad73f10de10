PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint format schema schema-check bench bench-ingest bench-activity bench-insights bench-sessions clean

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

bench: bench-ingest bench-activity bench-insights bench-sessions

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest_bench.py

bench-activity: $(STAMP)
	$(BIN)/python bench/activity_bench.py

bench-insights: $(STAMP)
	$(BIN)/python bench/insights_bench.py

bench-sessions: $(STAMP)
	$(BIN)/python bench/sessions_bench.py

clean:
	rm -rf $(VENV) .usagegraph-test .pytest_cache .mypy_cache .ruff_cache
