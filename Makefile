# Every target sets up what it needs by itself (virtualenv, pinned packages, Debian packages).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
OUT ?= demo_out

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup_system.sh
	bash scripts/setup_system.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and exactly: the CPU wheel on local disk, never a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/neutex demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest -q --doctest-modules src/neutex
	# two workers: most tests run one torch thread, so the 2-core CI machine runs two at a time
	$(BIN)/python -m pytest -q -n 2 --dist worksteal tests

bench: setup
	$(BIN)/neutex bench --json bench.json

clean:
	rm -rf $(VENV) demo_out .pytest_cache
