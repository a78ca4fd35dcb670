# The two commands of the quick start: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint venv-demo venv-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps record which extras are installed, so a second run installs nothing.
$(VENV)/.demo: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[demo]"
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[dev]"
	touch $@

demo: $(VENV)/.demo
	$(BIN)/lrfinder demo

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Keras reads KERAS_BACKEND once per process, so its tests run once per backend: torch and
# tensorflow here (pytest exits 5, nothing collected, when tensorflow is not installed), jax
# (their default) in the full run that ends the target.
KERAS_TESTS := tests/test_keras.py tests/test_cross_framework.py

test: lint
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q $(KERAS_TESTS) || test $$? -eq 5
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q $(KERAS_TESTS)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
