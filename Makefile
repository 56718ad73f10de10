# The newest supported Python found (3.13, 3.12 or 3.11); `make test PYTHON=... VENV=...` picks another.
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)-$(PYVER)

UI_DIST := usagegraph/http/ui_dist
UI_STAMP := $(UI_DIST)/.built
WEB_DEPS := web/node_modules/.installed
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) web/index.html web/graphiql.html \
	web/vite.config.ts web/tsconfig.json web/package.json
NODE_CHECK := node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' 2>/dev/null \
	&& command -v npm >/dev/null \
	|| { echo "building the dashboard (web/) needs Node.js 20 or newer with npm: install them (Debian: apt-get install nodejs npm) and run make again" >&2; exit 1; }

.PHONY: ui run test lint format schema schema-check bench bench-ingest bench-activity bench-insights bench-sessions bench-compiled bench-retention bench-partitions bench-import bench-otlp bench-http bench-ui load fault clean

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

$(WEB_DEPS): web/package-lock.json
	@$(NODE_CHECK)
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_DEPS)

## Build the dashboard (web/, Vite) into the package when its sources or its lockfile changed.
ui: $(UI_STAMP)

$(UI_STAMP): $(WEB_DEPS) $(WEB_SOURCES)
	@$(NODE_CHECK)
	cd web && npm run --silent build
	touch $(UI_STAMP)

## Run the server: embedded PostgreSQL, migrations, demo data on first start, the dashboard and GraphiQL.
run: $(STAMP) $(UI_STAMP)
	$(BIN)/usagegraph serve --demo

## Run the whole test suite against a real PostgreSQL (embedded unless USAGEGRAPH_TEST_DATABASE_URL).
test: $(STAMP) $(UI_STAMP)
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

## Bytes on disk per raw record before and after a retention purge, and the purge's speed.
bench-retention: $(STAMP)
	$(BIN)/python -m bench.retention_bench

## resource_samples purged by batched DELETEs against daily and weekly time partitions dropped: purge time,
## WAL, bytes on disk, reads and inserts before and after.
bench-partitions: $(STAMP)
	$(BIN)/python -m bench.partition_bench

## OTLP /v1/logs in batches of 512 against the same events through the ingest mutation.
bench-otlp: $(STAMP)
	$(BIN)/python -m bench.otlp_bench

bench-http: $(STAMP)
	$(BIN)/python -m bench.http_bench

## The dashboard in Chromium: time to all panels drawn and bytes shipped, per page.
bench-ui: $(STAMP) $(UI_STAMP)
	$(BIN)/python -m bench.ui_bench
	$(BIN)/python -m bench.ui_large_bench

## Mixed dashboard + ingest load against `usagegraph serve --workers 2` (60 s, 32 clients).
load: $(STAMP)
	$(BIN)/python -m bench.load

## PostgreSQL restarted under load, and the server started with the database down.
fault: $(STAMP)
	$(BIN)/python -m bench.fault

clean:
	rm -rf $(VENV) $(UI_DIST) web/node_modules .usagegraph-test .pytest_cache .mypy_cache .ruff_cache
