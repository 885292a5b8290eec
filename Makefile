# Helpline: `make run` to try it, `make test` to prove it.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run test lint bench bench-soak system-deps clean

LOCK := requirements.lock
UV_VERSION := 0.13.9
PIP := $(PY) -m pip -q --disable-pip-version-check

.PHONY: lock lock-upgrade

# Exact, hashed versions from the lock file; the package itself goes in editable, without
# dependencies of its own choosing. `make lock` after changing dependencies in pyproject.toml.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PY) scripts/i18n.py compile
	@touch $@

# Re-resolve the lock from pyproject.toml, keeping every version that still fits.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile -q pyproject.toml scripts/build-requirements.in --extra test \
	  --generate-hashes --python-version 3.11 -o $(LOCK) $(UV_FLAGS)

# Move every dependency to its newest release that pyproject.toml allows.
lock-upgrade:
	$(MAKE) lock UV_FLAGS=--upgrade

# The tests' OpenID provider (canaille, docs/decisions): a virtual environment of its own, out
# of Helpline's, from exact hashed versions. `make lock-canaille` after changing its .in file.
CANAILLE_VENV := .venv-canaille
CANAILLE_STAMP := $(CANAILLE_VENV)/.installed-stamp
CANAILLE_LOCK := scripts/canaille.lock

$(CANAILLE_STAMP): $(CANAILLE_LOCK)
	@test -x $(CANAILLE_VENV)/bin/python || $(PYTHON) -m venv $(CANAILLE_VENV)
	$(CANAILLE_VENV)/bin/python -m pip -q --disable-pip-version-check install --require-hashes --no-deps -r $(CANAILLE_LOCK)
	@touch $@

.PHONY: canaille lock-canaille
canaille: $(CANAILLE_STAMP)

lock-canaille: $(STAMP)
	$(PIP) install uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile -q scripts/canaille-requirements.in --generate-hashes \
	  --python-version 3.11 -o $(CANAILLE_LOCK)

# Translations (docs/ui.md "Languages"): extract every message from the Python code, the
# templates and the scripts, update each language's catalog, compile the .mo files (built,
# not committed: decision 023), and list what still needs a translator.
.PHONY: i18n i18n-compile
i18n: $(STAMP)
	$(PY) scripts/i18n.py all

i18n-compile: $(STAMP)
	$(PY) scripts/i18n.py compile

run: $(STAMP)
	$(PY) scripts/i18n.py compile
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
	$(VENV)/bin/lint-imports

# The whole suite on SQLite (browser and multi-process tests included), then again on
# PostgreSQL (the multi-process tests always use PostgreSQL and Redis already). Each pass runs
# on TEST_WORKERS pytest-xdist workers, each module whole on one worker (docs/testing.md).
TEST_WORKERS ?= 2
PYTEST_PASS := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# Bytecode caches on, whatever the environment says: with PYTHONDONTWRITEBYTECODE set, every
# pytest process (three per pass), fork server and `python -m helpline` compiles Helpline and
# the tests from source again, and pytest rewrites the asserts of its plugins' whole packages
# (schemathesis, hypothesis, anyio) again: ~4.5 s of CPU per pytest process (docs/testing.md).
test: export PYTHONDONTWRITEBYTECODE :=

test: $(STAMP) system-deps canaille lint
	$(PYTEST_PASS)
	HELPLINE_TEST_BACKEND=postgres $(PYTEST_PASS) --ignore=tests/e2e --ignore=tests/scaleout tests

bench: $(STAMP) system-deps
	$(PY) bench/run.py all

# Scenario 6: 30 minutes at 1,000 msg/s (not part of `make bench` or `make test`).
bench-soak: $(STAMP) system-deps
	$(PY) bench/run.py 6

clean:
	rm -rf $(VENV) $(CANAILLE_VENV) var test-output .pytest_cache .mypy_cache .ruff_cache
