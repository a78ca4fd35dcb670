"""The examples in the docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "lrfinder._core._sweep",
    "lrfinder._core._smoothing",
    "lrfinder._core._rangetest",
    "lrfinder._core._result",
    "lrfinder._core._suggestion",
    "lrfinder._core._find",
    "lrfinder._core._repeat",
    "lrfinder._tuning._trial",
    "lrfinder._plotting._result",
]


@pytest.mark.parametrize(
    "name", [*MODULES, "lrfinder.torch", "lrfinder.torch._find", "lrfinder.torch._tune"]
)
def test_docstring_examples(name: str) -> None:
    if name.startswith("lrfinder.torch"):
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert attempted > 0 or name == "lrfinder._plotting._result"
