"""The examples under examples/ run and produce a usable suggestion."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from _jax_pass import skip_outside_jax_pass

skip_outside_jax_pass("The examples use JAX; they run")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_optax_flax_example() -> None:
    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "optax_flax.py"))
    result = example["main"](num_steps=60, progress=False)
    assert result.settings["framework"] == "optax"
    assert result.lrs[0] <= result.suggestion.lr <= result.lrs[-1]


def test_keras_on_jax_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nbformat")
    pytest.importorskip("sklearn")
    from _notebooks import execute, outputs, read, shown

    notebook = execute(read("keras_jax.ipynb"), tmp_path, monkeypatch)
    assert "jax" in shown(notebook, "keras.config.backend()")["text/plain"]
    assert "<table>" in str(shown(notebook, "result")["text/html"])
    assert "image/png" in shown(notebook, "result.plot()")
    (trained,) = outputs(notebook, "assert after < before / 2")
    assert "held-out loss" in trained.text
