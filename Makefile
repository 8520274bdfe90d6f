# tousu: `make run` serves on the embedded SQLite file; `make test` runs the suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The TypeScript generator and compiler the tests check the OpenAPI document with (pinned in clients/).
NODE_STAMP := clients/node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test openapi lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

$(NODE_STAMP): clients/package.json clients/package-lock.json
	npm ci --prefix clients --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	$(BIN)/tousu migrate
	$(BIN)/tousu keys bootstrap
	@echo "serving on http://$(HOST):$(PORT) (docs at http://$(HOST):$(PORT)/docs)"
	TOUSU_WEBHOOK_ALLOW_PRIVATE=$${TOUSU_WEBHOOK_ALLOW_PRIVATE:-1} $(BIN)/tousu serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(NODE_STAMP) typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: $(STAMP)
	$(BIN)/tousu openapi

lint: $(STAMP)
	$(BIN)/ruff check app tests bench migrations/env.py
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.sweep --append bench/RESULTS.md
	$(BIN)/python -m bench.report --sqlite --append bench/RESULTS.md
	$(BIN)/python -m bench.webhooks --append bench/RESULTS.md

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis clients/node_modules
