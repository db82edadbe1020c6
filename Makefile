# Two commands for a new user: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck unit integration bench clean

$(BIN)/cyberscan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/cyberscan
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/cyberscan
	$(BIN)/cyberscan demo

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

unit: $(VENV)/.dev
	$(BIN)/pytest tests/unit

integration: $(VENV)/.dev
	$(BIN)/pytest tests/integration

bench: $(VENV)/.dev
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build cyberscan-demo
