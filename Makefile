# The two commands of the quick start: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint venv-demo venv-dev clean benchmarks

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

test: lint
	$(BIN)/python -m pytest
	# The JAX pass, in a process of its own: Keras reads its backend once per process (the run
	# above used torch), and a started JAX warns, and may deadlock, when the DDP tests fork.
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q tests/test_keras_schedule.py tests/test_optax_schedule.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The quality and overhead benchmarks (BENCHMARKS.md): benchmark-only dependencies, CPU torch pin.
$(VENV)/.bench: benchmarks/requirements.txt constraints.txt $(VENV)/.dev
	$(PIP) -r benchmarks/requirements.txt
	touch $@

benchmarks: $(VENV)/.bench
	$(BIN)/python -m benchmarks.quality.run all
	$(BIN)/python -m benchmarks.overhead
