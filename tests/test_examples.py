"""The examples under examples/ run and produce a usable suggestion."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

if os.environ.get("KERAS_BACKEND") != "jax":
    pytest.skip(
        "The examples use JAX; they run in the JAX pass (KERAS_BACKEND=jax)",
        allow_module_level=True,
    )

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_optax_flax_example() -> None:
    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "optax_flax.py"))
    result = example["main"](num_steps=60, progress=False)
    assert result.settings["framework"] == "optax"
    assert result.lrs[0] <= result.suggestion.lr <= result.lrs[-1]
