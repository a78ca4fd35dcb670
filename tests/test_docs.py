"""The examples in the docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "lrfinder._sweep",
    "lrfinder._smoothing",
    "lrfinder._rangetest",
    "lrfinder._result",
    "lrfinder._suggest",
    "lrfinder._find",
    "lrfinder._repeat",
    "lrfinder._plot",
]


@pytest.mark.parametrize("name", [*MODULES, "lrfinder.torch"])
def test_docstring_examples(name: str) -> None:
    if name == "lrfinder.torch":
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert attempted > 0 or name == "lrfinder._plot"
