"""The README is the package's page on PyPI: its links work there, and its examples run."""

from __future__ import annotations

import importlib.util
import os
import tomllib

import numpy as np
import pytest

from _markdown import ROOT, code_block, links, run_block

README = ROOT / "README.md"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_link_and_image_is_absolute() -> None:
    # PyPI shows the README without the repository around it: a relative link or image (and an
    # in-page anchor, which PyPI does not generate) breaks there.
    found = links(README)
    assert len(found) > 10
    broken = [target for target in found if not target.startswith("https://")]
    assert broken == []


def test_links_point_at_the_project_urls() -> None:
    urls = PROJECT["urls"]
    docs, repo = urls["Documentation"], urls["Homepage"]
    raw = repo.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    for target in links(README):
        assert target.startswith((docs, repo, raw)), target
    assert any(t.startswith(docs) for t in links(README))


def test_the_install_line_for_all_names_every_extra() -> None:
    # The README says what [all] holds; tests/packaging checks that pyproject agrees.
    text = README.read_text()
    assert 'pip install "lrfinder[all]"        # every extra above' in text
    listed = {
        line.split("[")[1].split("]")[0]
        for line in text.splitlines()
        if 'pip install "lrfinder[' in line
    }
    assert listed == set(PROJECT["optional-dependencies"]) - {"demo", "dev", "docs"}


def check_suggestion(scope: dict[str, object]) -> None:
    result = scope["result"]
    suggestion = result.suggestion  # type: ignore[attr-defined]
    assert result.lrs[0] <= suggestion.lr <= result.lrs[-1]  # type: ignore[attr-defined]
    assert suggestion.confidence > 0.3


def test_pytorch_example(tmp_path, monkeypatch, capsys) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # the example writes lr_find.png and lr_find.json
    torch.manual_seed(0)
    with torch.random.fork_rng():
        scope = run_block(code_block(README, "lrfinder.torch.find_lr"), "README.md (PyTorch)")
    check_suggestion(scope)
    assert (tmp_path / "lr_find.png").stat().st_size > 10_000
    import lrfinder

    loaded = lrfinder.RangeTestResult.load(tmp_path / "lr_find.json")
    np.testing.assert_array_equal(loaded.losses, scope["result"].losses)  # type: ignore[attr-defined]
    assert "fall" in capsys.readouterr().out


def test_keras_example(capsys) -> None:
    # The example sets KERAS_BACKEND only when it is unset: torch in the main run, jax in the
    # JAX pass.
    if os.environ.get("KERAS_BACKEND", "torch") == "torch":
        pytest.importorskip("torch")
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    unset = "KERAS_BACKEND" not in os.environ
    try:
        scope = run_block(code_block(README, "lrfinder.keras.find_lr"), "README.md (Keras)")
    finally:
        if unset:
            os.environ.pop("KERAS_BACKEND", None)
    check_suggestion(scope)
    assert scope["result"].settings["framework"] == "keras"  # type: ignore[attr-defined]
    assert "fall" in capsys.readouterr().out


def test_optax_example(capsys) -> None:
    if os.environ.get("KERAS_BACKEND") != "jax":
        pytest.skip("JAX runs in the JAX pass (KERAS_BACKEND=jax)")
    pytest.importorskip("optax")
    scope = run_block(code_block(README, "lrfinder.optax.find_lr"), "README.md (Optax)")
    check_suggestion(scope)
    assert scope["result"].settings["framework"] == "optax"  # type: ignore[attr-defined]


def test_any_loop_example(capsys) -> None:
    scope = run_block(code_block(README, "lrfinder.find_lr(step"), "README.md (any loop)")
    check_suggestion(scope)
    assert "fall" in capsys.readouterr().out
