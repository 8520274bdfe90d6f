# tousu: `make run` serves on the embedded SQLite file; `make test` runs the suite on SQLite and PostgreSQL.
# The virtual environment's interpreter: the distribution's Python 3.11 or later where it has one with venv (Debian
# builds it with profile-guided and link-time optimisation), any python3 otherwise. From a fresh clone the whole
# suite took 338 s on Debian's 3.11.2, against 383 s and 396 s on a 3.11.7 built from source without them, the runs
# one after the other (2026-12-06). PYTHON=... chooses another; an existing .venv keeps the one it was made with.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, sys, venv; sys.exit(sys.version_info < (3, 11))' \
	>/dev/null 2>&1 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The TypeScript generator and compiler the tests check the OpenAPI document with (pinned in clients/).
NODE_STAMP := clients/node_modules/.installed
# apt-get, one at a time: `make setup` installs Chromium and PgBouncer side by side, and a second apt-get would
# find dpkg locked and fail.
APT_GET = flock /tmp/tousu-apt.lock env DEBIAN_FRONTEND=noninteractive apt-get
# Debian packages installed, the package lists updated first if the install fails: $(call APT_INSTALL,packages).
APT_INSTALL = $(APT_GET) install -y -qq $(1) || ($(APT_GET) update -qq && $(APT_GET) install -y -qq $(1))
HOST ?= 127.0.0.1
PORT ?= 8000
# Python keeps the compiled modules of app/ and tests/ (in __pycache__, ignored by git) even where the shell asks it
# not to: the suite starts a few hundred Python processes.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run setup test test-fast typecheck browser pgbouncer openapi lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the dependencies (pip installs uv, and does the work itself where uv cannot be had). Then one import
# of what tousu's processes and the suite's workers load compiles those modules, once: compiling every installed
# module (uv's --compile-bytecode) made a fresh clone's install take 18 s, this 12 s (2026-12-06); a module imported
# later is compiled by the first process that imports it.
$(STAMP): pyproject.toml | $(BIN)/python
	($(BIN)/python -m pip install --quiet 'uv>=0.13,<0.14' \
		&& $(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]') \
		|| $(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c 'import app.cli, app.main, hypothesis, pytest, schemathesis, xdist'
	touch $@

install: $(STAMP)

$(NODE_STAMP): clients/package.json clients/package-lock.json
	npm ci --prefix clients --no-audit --no-fund --loglevel=error
	touch $@

# make run stops before it prints a URL another server answers: it binds HOST:PORT as uvicorn will, then lets go.
FAMILY = $(if $(findstring :,$(HOST)),AF_INET6,AF_INET)
run: $(STAMP)
	@$(BIN)/python -c 'import socket; socket.create_server(("$(HOST)", $(PORT)), family=socket.$(FAMILY)).close()' \
		2>/dev/null || { echo "make run: cannot listen on $(HOST):$(PORT) (another server?); try PORT=8001" >&2; exit 1; }
	$(BIN)/tousu migrate
	$(BIN)/tousu keys bootstrap --url http://$(HOST):$(PORT)
	@echo "serving on http://$(HOST):$(PORT) (docs at http://$(HOST):$(PORT)/docs)"
	TOUSU_LOG_FORMAT=$${TOUSU_LOG_FORMAT:-console} TOUSU_WEBHOOK_ALLOW_PRIVATE=$${TOUSU_WEBHOOK_ALLOW_PRIVATE:-1} \
		$(BIN)/tousu serve --host $(HOST) --port $(PORT)

# Three pytest-xdist workers (each with its own SQLite file and PostgreSQL database): the tests wait on live servers
# and subprocesses, so on 2 cores 3 workers beat 2 (the whole suite: 432 s against 500 s, 2026-12-03).
PYTEST_WORKERS ?= 3
# A worker that runs out of tests takes some of those queued for another (worksteal): with the default schedule a run
# ended on one worker's queue of early tests while the other two were done (37 s of a 15-minute run, 2026-12-05).
XDIST = -n $(PYTEST_WORKERS) --dist worksteal

# What the whole suite needs, set up side by side: the Python and npm dependencies download while apt-get installs
# Chromium and PgBouncer (on a fresh machine 53 s, against 67 s one after the other, 2026-12-06). apt-get takes
# its turns through APT_GET's lock.
setup:
	@$(MAKE) --no-print-directory --jobs=4 --output-sync=target $(STAMP) $(NODE_STAMP) browser pgbouncer

# The type check runs beside the tests (it waits on nothing they hold); both must pass.
test: setup
	@$(BIN)/mypy > $(VENV)/mypy.out 2>&1 & typing=$$!; \
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS); tests=$$?; \
	wait $$typing; typed=$$?; echo "$(BIN)/mypy"; cat $(VENV)/mypy.out; \
	test $$tests -eq 0 && test $$typed -eq 0

# The inner loop: SQLite only, without the long randomised runs (stateful, schemathesis).
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) --databases=sqlite -m "not slow" $(PYTEST_ARGS)

# Debian's headless Chromium and its driver, for tests/test_api_docs.py and tests/progress/test_browser.py (skipped
# without them, unless CI is set).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
		|| $(call APT_INSTALL,chromium chromium-driver) \
		|| echo "chromium is not installed: tests/test_api_docs.py will be skipped"
	@# A Chinese font, so that the progress page's screenshots (var/test-artifacts/progress) show its words.
	@fc-list :lang=zh 2>/dev/null | grep -q . \
		|| $(call APT_INSTALL,fonts-wqy-zenhei) \
		|| echo "no Chinese font: the progress page's screenshots will show boxes"

# Debian's PgBouncer, for tests/test_pgbouncer.py (tousu through it in transaction mode; skipped without it, unless
# CI is set). The test starts its own; the package's service is not used.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer \
		|| $(call APT_INSTALL,pgbouncer) \
		|| echo "pgbouncer is not installed: tests/test_pgbouncer.py will be skipped"

openapi: $(STAMP)
	$(BIN)/tousu openapi

lint: $(STAMP)
	$(BIN)/ruff check app tests bench migrations/env.py
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || $(call APT_INSTALL,wrk)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.sweep --append bench/RESULTS.md
	$(BIN)/python -m bench.report --sqlite --append bench/RESULTS.md
	$(BIN)/python -m bench.webhooks --append bench/RESULTS.md
	$(BIN)/python -m bench.scaleout --append bench/RESULTS.md

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis clients/node_modules
