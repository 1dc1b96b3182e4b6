# lipsync-web: `make run` serves the app on one machine; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PORT ?= 8000
SIMULATOR_PORT ?= 8765
# The stamp changes when pyproject.toml does, so a second `make run` skips the install.
DEPS_HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
RUN_STAMP := $(VENV)/.run-$(DEPS_HASH)
TEST_STAMP := $(VENV)/.test-$(DEPS_HASH)
BENCH_STAMP := $(VENV)/.bench-$(DEPS_HASH)

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lipsync
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
CHROMIUM ?= /usr/bin/chromium

.PHONY: help run serve simulator test test-unit test-integration system-deps lint format bench clean

help:
	@echo "make run    set up and serve http://127.0.0.1:$(PORT)/ with a worker and beat (local engine)"
	@echo "make test   install the test dependencies and run lint and every test tier"
	@echo "make simulator  serve the Kling simulator on http://127.0.0.1:$(SIMULATOR_PORT)/"
	@echo "make lint   ruff check and format check"
	@echo "make bench  run the benchmarks and write bench/results.json"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	rm -f $(VENV)/.run-*; touch $@

$(TEST_STAMP): | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[test]"
	rm -f $(VENV)/.test-*; touch $@

$(BENCH_STAMP): $(TEST_STAMP)
	$(PIP) install -e ".[test,bench]"
	rm -f $(VENV)/.bench-*; touch $@

run: $(RUN_STAMP) serve

# What `make run` does once installed: as in production (DEBUG off, a secret key made once and
# kept under the var folder, static files collected and served by whitenoise). `DEBUG=true make
# run` serves for development instead.
serve:
	@export SECRET_KEY="$${SECRET_KEY:-$$($(PY) -m lipsync_web.secret_key)}" && \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	$(PY) manage.py ensure_admin && \
	exec $(PY) manage.py runstack --port $(PORT)

# The Kling simulator needs none of the app's settings; its keys come from KLING_ACCESS_KEY,
# KLING_SECRET_KEY and LIPSYNC_PROXY_TOKEN. Ctrl-C stops it and removes its files.
simulator: $(RUN_STAMP)
	exec $(PY) -m projects.engines.simulator --port $(SIMULATOR_PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download its own here);
# strace lets the hostile-upload tests watch the probe subprocesses for network calls.
system-deps:
	@if [ ! -x "$(CHROMIUM)" ] || ! command -v strace >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "Installing Debian's chromium and strace for the tests"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium strace >/dev/null; \
	fi

test: $(TEST_STAMP) system-deps lint test-unit test-integration

# The SQLite tier in two runs: the tests without a browser in parallel processes, each with
# its own database, broker folder and media (TEST_WORKERS=1 runs them one at a time); then
# the browser tests alone, since Chromium and the live server already keep both cores busy.
TEST_WORKERS ?= 2
test-unit: $(TEST_STAMP)
	$(PY) -m pytest -m "not integration and not browser" -n $(TEST_WORKERS) --dist worksteal
	$(PY) -m pytest -m "browser and not integration"

# Real PostgreSQL and Redis: the integration tests, and again the tests marked `portable`
# (locking, conditional updates, query counts) on PostgreSQL. Skipped when the services are
# unreachable, except with CI=true, where that fails.
test-integration: $(TEST_STAMP)
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	$(PY) -m pytest -m "integration or portable"

lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(TEST_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(BENCH_STAMP) system-deps
	$(PY) bench/run_all.py

clean:
	rm -rf var/test test-artifacts .pytest_cache
