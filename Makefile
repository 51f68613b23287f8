# The two commands a new machine needs: `make up` (run the platform) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint install services bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

up: install
	$(VENV)/bin/llmforge up

services:
	bash .ci/services

test: install services
	$(PY) -m pytest -q --cov --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/llmforge events schema --check

bench: install
	$(PY) -m bench.bus_latency

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
