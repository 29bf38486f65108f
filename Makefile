# scimsaga: `make up` runs it, `make test` proves it. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: up test lint typecheck unit integration e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

up: $(VENV)/.installed
	$(BIN)/scimsaga up $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check scimsaga tests bench
	$(BIN)/mypy scimsaga
	$(BIN)/python -m pytest tests $(ARGS)

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit $(ARGS)

integration: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/integration $(ARGS)

e2e: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/e2e $(ARGS)

clean:
	rm -rf $(VENV) .scimsaga .pytest_cache .mypy_cache .ruff_cache
