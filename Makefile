# Two commands a newcomer needs: `make console` and `make test`. Each sets up .venv first.
# The newest Python 3 at 3.11 or above that runs (a pyenv shim for a version that is not active
# fails, so each candidate is asked for its version rather than only looked up).
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/kern-coach: pyproject.toml
	@test -n "$(PYTHON)" || { echo "kern-coach needs Python 3.11 or newer (python3.11 … python3.14)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: console test lint check
console: $(BIN)/kern-coach
	$(BIN)/kern-coach console

test: $(BIN)/kern-coach
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/kern-coach flows check
	$(BIN)/pytest -q

lint: $(BIN)/kern-coach
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
