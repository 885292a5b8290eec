# Helpline: `make run` to try it, `make test` to prove it.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test lint bench system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

run: $(STAMP)
	$(VENV)/bin/helpline migrate
	$(VENV)/bin/helpline demo --if-empty
	$(VENV)/bin/helpline serve

# Redis, Chromium and PostgreSQL from Debian when missing (root on Debian only; else tests skip).
system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

# The whole suite on SQLite (browser and multi-process tests included), then again on
# PostgreSQL (the multi-process tests always use PostgreSQL and Redis already).
test: $(STAMP) system-deps lint
	$(PY) -m pytest
	HELPLINE_TEST_BACKEND=postgres $(PY) -m pytest --ignore=tests/e2e --ignore=tests/scaleout tests

bench: $(STAMP) system-deps
	$(PY) bench/run.py all

clean:
	rm -rf $(VENV) var test-output .pytest_cache .mypy_cache .ruff_cache
