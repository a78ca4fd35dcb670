# The two commands of the quick start: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint docs venv-demo venv-dev clean benchmarks

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
	$(BIN)/lrfinder demo --tune

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Keras reads KERAS_BACKEND once per process, so the Keras tests run once per backend: torch in
# the main run, tensorflow next (pytest exits 5, nothing collected, when it is not installed), jax
# in the JAX pass, a process of its own, which also runs the JAX-only tests so that the main run
# never starts JAX.
KERAS_TESTS := tests/keras
JAX_TESTS := tests/optax tests/test_cross_framework.py tests/test_examples.py \
	tests/test_import.py::test_every_name_in_all_imports \
	tests/docs/test_readme.py::test_keras_example tests/docs/test_readme.py::test_optax_example

# The documentation site (mkdocs.yml) into site/; strict: any warning, from MkDocs or from the
# docstrings of the API reference, fails the build. NO_MKDOCS_2_WARNING silences the Material
# theme's banner about its future, which is no warning about these docs.
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Lint and the docs build first; after the three passes, the dist pass builds the sdist and the
# wheel and installs the wheel in a fresh virtual environment (tests/packaging/test_dist.py).
test: lint docs
	$(BIN)/python -m pytest
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q $(KERAS_TESTS) || test $$? -eq 5
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q $(KERAS_TESTS) $(JAX_TESTS)
	LRFINDER_DIST=1 $(BIN)/python -m pytest -q tests/packaging/test_dist.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site

# The quality and overhead benchmarks (BENCHMARKS.md): benchmark-only dependencies, CPU torch pin.
$(VENV)/.bench: benchmarks/requirements.txt constraints.txt $(VENV)/.dev
	$(PIP) -r benchmarks/requirements.txt
	touch $@

benchmarks: $(VENV)/.bench
	$(BIN)/python -m benchmarks.quality.run all
	$(BIN)/python -m benchmarks.overhead
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m benchmarks.reading
	$(BIN)/python -m benchmarks.scale
