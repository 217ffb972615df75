# Two commands set everything up on a fresh machine:
#   make run    install the app, migrate, load the Jelgava config (+ demo data), start the mail
#               catcher and the app (web app, API, scheduler, delivery worker) on SQLite
#   make test   install the test tools and the system packages the tests need (PostgreSQL
#               server, chromium) and run the suite
#
# Two locks pin every Python package, each with its dependencies:
#   requirements.lock      what the app needs at run time (the dependencies of `pip install .`)
#   requirements-dev.lock  what the tests and the dev tools add to it (the `test` and `dev` extras:
#                          pytest, Playwright, schemathesis, the mail catcher, ruff, mypy, ...)
# `make run` installs the runtime lock only, plus its mail catcher; `make test` installs both.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip --quiet
# Each install step leaves a stamp in the venv named after the checksum of the files it installed
# from: a changed lock reinstalls, and `make run` after `make test` (or the other way round)
# installs only what is missing.
checksum      = $(shell cat $(1) | cksum | cut -d' ' -f1)
RUNTIME_STAMP = $(VENV)/.installed-runtime-$(call checksum,requirements.lock pyproject.toml)
DEV_STAMP     = $(VENV)/.installed-dev-$(call checksum,requirements-dev.lock)
CATCHER_STAMP = $(VENV)/.installed-mailcatcher-$(call checksum,requirements-dev.lock)

.PHONY: install install-runtime run lint test test-fast bench docs screenshots lock system-test-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(RUNTIME_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	rm -f $(VENV)/.installed-runtime-*; touch $@

$(DEV_STAMP): requirements-dev.lock | $(BIN)/python
	$(PIP) install -c requirements.lock -r requirements-dev.lock
	rm -f $(VENV)/.installed-dev-*; touch $@

# The mail catcher is mail-devel, a dev package: `make run` installs it (and only it, with its
# dependencies) at the versions the dev lock pins.
$(CATCHER_STAMP): requirements-dev.lock | $(BIN)/python
	$(PIP) install -c requirements.lock -c requirements-dev.lock mail-devel
	rm -f $(VENV)/.installed-mailcatcher-*; touch $@

# make install-runtime: create .venv with the app and what it needs at run time (requirements.lock)
install-runtime: $(RUNTIME_STAMP)

# make install: create .venv with the app, the test tools and the dev tools (both locks)
install: $(RUNTIME_STAMP) $(DEV_STAMP)

# make system-test-deps: install the Debian packages the tests need, if missing: PostgreSQL's
# server binaries (the tests start their own server) and chromium (Playwright drives it)
system-test-deps:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && test -x /usr/bin/chromium || { \
	  echo "installing Debian packages postgresql and chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql chromium >/dev/null; }

# The local mail catcher (mail-devel): SMTP on 1025 (GAITA_SMTP_PORT's default),
# every email in one inbox at http://127.0.0.1:8025 (IMAP 1143, user dev@gaita.test,
# password dev).  It keeps mail in memory only.
MAILCATCHER = $(BIN)/mail_devel --host 127.0.0.1 --smtp-port 1025 --http-port 8025 \
              --imap-port 1143 --user dev@gaita.test --password dev

# make run: install the app (runtime lock + mail catcher), create or upgrade var/gaita.db with the
# Jelgava config and demo data, then serve the app on :8000 and the mail catcher on :8025 (Ctrl-C stops both)
run: $(RUNTIME_STAMP) $(CATCHER_STAMP)
	$(BIN)/gaita init --demo
	$(BIN)/gaita case list
	@echo "Mail catcher: http://127.0.0.1:8025   App: http://127.0.0.1:8000 (log in as koordinatore, password gaita-demo-2026; README: the web app)"
	@$(MAILCATCHER) >var/mailcatcher.log 2>&1 & CATCHER=$$!; \
	  trap 'kill $$CATCHER 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/gaita serve

# The suite in parallel (pytest-xdist): one process per core, at most 4; each starts
# its own PostgreSQL server.  A single file: $(BIN)/pytest tests/...
PYTEST_PARALLEL = -n auto --maxprocesses=4

# make lint: ruff and mypy, as configured in pyproject.toml (zero findings is the rule)
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# make test: install both locks and the system packages, lint, then run the whole suite
test: install system-test-deps lint
	$(BIN)/pytest $(PYTEST_PARALLEL)

# make test-fast: lint, then the suite without the slow tests and those that need PostgreSQL
test-fast: install lint
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow and not pg"

# make bench: the benchmarks in bench/, each against its baseline measured in the same run
bench: install system-test-deps
	$(BIN)/python -m bench

# make docs: regenerate docs/workflows.md from the declarations (a test checks it is current)
docs: install-runtime
	$(BIN)/gaita workflows docs > docs/workflows.md

# make screenshots: refresh docs/screenshots/*.png, the user guide's pictures (docs/guide/):
# every browser test that saves screenshots (tests/web/test_e2e.py, tests/web/test_flow_*.py,
# tests/web/test_every_page.py) saves them there, at 1366 px in Latvian
SCREENSHOT_TESTS = tests/web/test_e2e.py $(wildcard tests/web/test_flow_*.py) tests/web/test_every_page.py
screenshots: install system-test-deps
	GAITA_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider $(SCREENSHOT_TESTS)

# make lock: regenerate both locks from pyproject.toml in a throw-away venv, so that they depend
# only on the declared requirements and on what the package index offers that day: install `.`
# and freeze it into requirements.lock; then add the `test` and `dev` extras, held to those
# runtime pins, and freeze what they added into requirements-dev.lock.
LOCK_VENV = var/lock-venv
LOCK_PIP  = $(LOCK_VENV)/bin/python -m pip --quiet
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_PIP) install --upgrade pip
	$(LOCK_PIP) install .
	{ echo "# Runtime lock: every package the app needs at run time (pip install .), pinned,"; \
	  echo "# for CPython 3.11 on Linux x86_64.  make run installs this lock only (and the mail"; \
	  echo "# catcher, pinned by requirements-dev.lock).  Regenerate both locks: make lock"; \
	  $(LOCK_PIP) freeze --exclude gaita; } > requirements.lock
	$(LOCK_PIP) install -c requirements.lock '.[test,dev]'
	{ echo "# Test and dev lock: what the test and dev extras (pytest, Playwright, schemathesis,"; \
	  echo "# mail-devel, ruff, mypy, ...) add to requirements.lock, pinned, for CPython 3.11 on"; \
	  echo "# Linux x86_64.  make test installs both locks.  Regenerate both locks: make lock"; \
	  $(LOCK_PIP) freeze --exclude gaita | grep -vxF -f requirements.lock; } > requirements-dev.lock
	rm -rf $(LOCK_VENV) build

# make clean: remove the venv, the local database and mail log (var/) and the tools' caches
clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .mypy_cache .ruff_cache
