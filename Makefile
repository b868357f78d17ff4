# The two commands: `make lab` opens the course, `make test` runs every test.
# Both build .venv through `make install` when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lab test unit lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,dev]'
	touch $(STAMP)

lab: install
	$(BIN)/jupyter lab notebooks/

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy --strict pool

unit: install
	$(BIN)/python -m pytest -q tests

test: lint typecheck unit

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
