# scimsaga: `make up` runs it, `make test` proves it. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: up demo test lint typecheck unit integration e2e browser clean

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

# The workshop's tour: every scenario, narrated, on a deployment of its own (or the running one).
demo: $(VENV)/.installed
	$(BIN)/scimsaga demo $(ARGS)

# The dashboard's test drives Debian's Chromium; install it when it is missing (root, or via sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/truetype/dejavu ]; } || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

test: $(VENV)/.installed-dev browser
	$(BIN)/ruff check scimsaga tests bench
	$(BIN)/mypy scimsaga
	$(BIN)/python -m pytest tests $(ARGS)

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit $(ARGS)

integration: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/integration $(ARGS)

e2e: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest tests/e2e $(ARGS)

clean:
	rm -rf $(VENV) .scimsaga .pytest_cache .mypy_cache .ruff_cache
