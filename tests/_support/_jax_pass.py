"""The JAX tests run in the JAX pass of ``make test`` (KERAS_BACKEND=jax), a process of its own,
so that the main run never starts JAX and Keras there stays on the torch backend."""

import os

import pytest


def skip_outside_jax_pass(what: str = "JAX tests run") -> None:
    """Skip the calling test module unless this is the JAX pass."""
    if os.environ.get("KERAS_BACKEND") != "jax":
        pytest.skip(f"{what} in the JAX pass (KERAS_BACKEND=jax)", allow_module_level=True)
