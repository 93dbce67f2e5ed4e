# floorstream: `make run` brings up the whole stack, `make test` runs every test.
# Each creates .venv and installs what it needs; a second run with nothing changed skips that.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP  := $(VENV)/.installed-run
DEV_STAMP  := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# What ruff checks: the four packages of the wheel, its `python -m floorstream`, tests, benchmarks.
SOURCES := services ingest kanban schemas floorstream.py tests bench

.DEFAULT_GOAL := help
.PHONY: help run test unit lint bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "floorstream needs Python 3.11+ (set PYTHON=python3.x)"'
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP) ## the whole stack with a simulated factory; boards at http://127.0.0.1:8000/
	$(BIN)/floorstream up --simulate

lint: $(DEV_STAMP) ## ruff (lint and format) and mypy --strict
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check --quiet $(SOURCES)
	$(BIN)/mypy

test: lint ## every test, against real servers the tests start themselves
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(DEV_STAMP) ## the tests that need no server (tests/unit), in seconds
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

bench: $(RUN_STAMP) $(DEV_STAMP) ## benchmarks: figures as ratios against a baseline run beside them
	@if ls bench/bench_*.py >/dev/null 2>&1; then \
		for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done; \
	else echo "no benchmarks yet"; fi

clean: ## remove .venv and the embedded servers' data (.floorstream)
	rm -rf $(VENV) .floorstream
