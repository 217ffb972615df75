# Two commands set everything up on a fresh machine:
#   make run    install, migrate, load the Jelgava config (+ demo data), start the mail
#               catcher and the app (web app, API, scheduler, delivery worker) on SQLite
#   make test   install test dependencies (PostgreSQL server, chromium) and run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast bench lock system-test-deps docs screenshots clean
# make docs: regenerate docs/workflows.md from the declarations (a test checks it is current)
# make screenshots: refresh docs/screenshots/*.png (the browser test tests/web/test_e2e.py saves them)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# Debian packages the tests need: PostgreSQL's server binaries (the tests start
# their own server) and chromium (the browser tests drive it with Playwright).
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

run: install
	$(BIN)/gaita init --demo
	$(BIN)/gaita case list
	@echo "Mail catcher: http://127.0.0.1:8025   App: http://127.0.0.1:8000 (log in as koordinatore, password gaita-demo-2026; README: the web app)"
	@$(MAILCATCHER) >var/mailcatcher.log 2>&1 & CATCHER=$$!; \
	  trap 'kill $$CATCHER 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/gaita serve

# The suite in parallel (pytest-xdist): one process per core, at most 4; each starts
# its own PostgreSQL server.  A single file: $(BIN)/pytest tests/...
PYTEST_PARALLEL = -n auto --maxprocesses=4

test: install system-test-deps
	$(BIN)/pytest $(PYTEST_PARALLEL)

test-fast: install
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow and not pg"

bench: install system-test-deps
	$(BIN)/python -m bench

docs: install
	$(BIN)/gaita workflows docs > docs/workflows.md

screenshots: install system-test-deps
	GAITA_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/web/test_e2e.py

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^gaita' > requirements.lock.new
	{ head -2 requirements.lock; cat requirements.lock.new; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock; rm requirements.lock.new

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
