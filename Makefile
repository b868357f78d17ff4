# The two commands: `make lab` opens the course, `make test` runs every test.
# Both build .venv through `make install` when it is missing or out of date.
PYTHON   ?= python3
# python3.13 on PATH if it runs; else pyenv's 3.13 (its shim fails unless selected).
PYTHON313 ?= $(shell (python3.13 -V >/dev/null 2>&1 && echo python3.13) || \
	ls -d "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
VENV313  := .venv313
# JupyterLab refuses to start as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# nbval in strict mode (every output compared) with the sanitisers for what varies.
NBVAL_ARGS := --nbval --nbval-current-env --nbval-cell-timeout=60 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: install lab notebooks test lint typecheck unit nbval browser unit313 bench clean

install: $(STAMP)

$(STAMP): pyproject.toml lab/overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,dev,dask]'
	install -D -m 644 lab/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

## lab: open the course in JupyterLab
lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_index.ipynb

## notebooks: re-run every notebook in place from a fresh kernel, then commit the outputs
notebooks: install
	$(BIN)/python tools/run_notebooks.py

## test: every check CI runs (lint, types, unit/stress/fault tests, nbval, browser)
test: lint typecheck unit nbval browser

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy --strict pool

unit: install
	$(BIN)/python -m pytest -q tests -m "not browser"

## nbval: replay every notebook against its committed outputs (fails if there is none)
nbval: install
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q $(NBVAL_ARGS) notebooks \
		--ignore=notebooks/solutions

## browser: run every notebook in JupyterLab in headless Chromium; without
## /usr/bin/chromium these skip, unless REQUIRE_BROWSER=1 (as in .ci/run)
browser: install
	$(BIN)/python -m pytest -q tests -m browser

## unit313: the package's own tests under Python 3.13 (needs python3.13)
unit313:
	@test -n "$(PYTHON313)" || { echo "unit313: no Python 3.13 found (set PYTHON313=...)"; exit 1; }
	test -x $(VENV313)/bin/python || $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet -e '.[dask]' pytest pytest-timeout hypothesis
	$(VENV313)/bin/python -m pytest -q tests -m "not needs_notebook_deps"

## bench: the pools against the standard library, as ratios
bench: install
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.processes
	$(BIN)/python -m benchmarks.aio
	$(BIN)/python -m benchmarks.aio_price
	$(BIN)/python -m benchmarks.cluster
	$(BIN)/python -m benchmarks.seed

clean:
	rm -rf $(VENV) $(VENV313) .pytest_cache .mypy_cache .ruff_cache .hypothesis
