# Two commands do all set-up on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'

run: install
	$(BIN)/bughound migrate
	$(BIN)/bughound setup --org default --project default
	$(BIN)/bughound serve

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check bughound tests bench
	$(BIN)/ruff format --check bughound tests bench
	$(BIN)/mypy bughound

bench: install-test
	$(BIN)/python bench/ingest.py
