# Two commands for a new user: `make demo` and `make test`. Both create .venv and install what they need.
# Python packages are pinned by constraints.txt (regenerate with `make constraints` after changing
# the dependencies in pyproject.toml).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet -c constraints.txt
# tests run side by side, one worker per CPU (pytest-xdist), each module's tests in one worker (its
# servers start once); every worker has loopback addresses of its own (tests/fixtures/loopback.py).
# `make test PYTEST_ARGS=` runs them one after another.
PYTEST_ARGS ?= -n auto --dist loadscope

.PHONY: demo test deps audit lint typecheck unit integration bench constraints clean

$(BIN)/cyberscan: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(BIN)/cyberscan
	$(PIP) -e '.[dev]'
	touch $@

demo: $(BIN)/cyberscan
	$(BIN)/cyberscan demo

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# as root on Debian: installs the servers the integration tests run (scripts/test-deps)
deps:
	scripts/test-deps

audit: $(VENV)/.dev
	$(BIN)/python scripts/audit

test: deps lint typecheck audit
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS) tests/unit

integration: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS) tests/integration

bench: $(VENV)/.dev
	$(BIN)/python bench/run.py

constraints: $(VENV)/.dev
	$(BIN)/pip freeze --exclude-editable | grep -v '^cyberscan' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build cyberscan-demo
