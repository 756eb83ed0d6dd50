# Two commands a newcomer needs: `make console` and `make test`. Each sets up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/kern-coach: pyproject.toml
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
