# The two commands: `make lab` opens the course, `make test` runs every test.
# Both build .venv through `make install` when it is missing or out of date.
PYTHON   ?= python3
PYTHON313 ?= python3.13
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
VENV313  := .venv313
# JupyterLab refuses to start as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test lint typecheck unit unit313 bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,dev]'
	touch $(STAMP)

## lab: open the course in JupyterLab
lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

## test: every check CI runs (lint, types, unit/stress/fault tests)
test: lint typecheck unit

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy --strict pool

unit: install
	$(BIN)/python -m pytest -q tests

## unit313: the package's own tests under Python 3.13 (needs python3.13)
unit313:
	test -x $(VENV313)/bin/python || $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet -e . pytest pytest-timeout hypothesis
	$(VENV313)/bin/python -m pytest -q tests -m "not needs_notebook_deps"

## bench: WorkerPool against the standard library, as ratios
bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENV313) .pytest_cache .mypy_cache .ruff_cache .hypothesis
