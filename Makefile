# Two commands set everything up on a fresh machine:
#   make run    install, migrate, load the Jelgava config (+ demo data), show the cases
#   make test   install test dependencies (incl. the PostgreSQL server) and run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast bench lock system-test-deps docs clean
# make docs: regenerate docs/workflows.md from the declarations (a test checks it is current)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# PostgreSQL's server binaries, for the tests that start their own server.
system-test-deps:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  echo "installing the PostgreSQL server (Debian package postgresql)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

run: install
	$(BIN)/gaita init --demo
	$(BIN)/gaita workflows list
	$(BIN)/gaita case list
	@echo "Try: $(BIN)/gaita case show KAV-$$(date +%Y)-00002 --as koordinatore   (see README: 5-minute tour)"

test: install system-test-deps
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow and not pg"

bench: install system-test-deps
	$(BIN)/python -m bench

docs: install
	$(BIN)/gaita workflows docs > docs/workflows.md

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^gaita' > requirements.lock.new
	{ head -2 requirements.lock; cat requirements.lock.new; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock; rm requirements.lock.new

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
