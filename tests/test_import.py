import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import lrfinder


def test_import_loads_no_framework_and_no_matplotlib() -> None:
    code = (
        "import sys, lrfinder, lrfinder.cli\n"
        "heavy = {'torch', 'keras', 'jax', 'tensorflow', 'optax', 'flax', 'matplotlib',"
        " 'sklearn', 'tqdm', 'lightning', 'pytorch_lightning', 'transformers'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_declared() -> None:
    for name in lrfinder.__all__:
        assert hasattr(lrfinder, name), name


def test_errors_are_value_errors() -> None:
    assert issubclass(lrfinder.LRFinderError, ValueError)
    assert issubclass(lrfinder.NoSuggestionError, lrfinder.LRFinderError)
    assert issubclass(lrfinder.ResultFileError, lrfinder.LRFinderError)


def public_modules() -> list[str]:
    """Every module of the package whose dotted path has no private part."""
    found = ["lrfinder"]
    for info in pkgutil.walk_packages(lrfinder.__path__, "lrfinder."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            found.append(info.name)
    return sorted(found)


# What each public module needs installed; JAX runs only in the JAX pass of `make test`.
NEEDS = {
    "lrfinder.torch": ["torch"],
    "lrfinder.keras": ["keras"],
    "lrfinder.optax": ["jax", "optax"],
    "lrfinder.lightning": ["lightning"],
    "lrfinder.huggingface": ["transformers"],
}


def test_the_public_modules_are_the_documented_ones() -> None:
    assert public_modules() == [
        "lrfinder",
        "lrfinder.cli",
        "lrfinder.huggingface",
        "lrfinder.keras",
        "lrfinder.lightning",
        "lrfinder.optax",
        "lrfinder.schedules",
        "lrfinder.torch",
    ]


@pytest.mark.parametrize("name", public_modules())
def test_every_name_in_all_imports(name: str) -> None:
    if name == "lrfinder.optax" and os.environ.get("KERAS_BACKEND") != "jax":
        pytest.skip("JAX is imported in the JAX pass only (KERAS_BACKEND=jax)")
    if name == "lrfinder.keras":
        os.environ.setdefault("KERAS_BACKEND", "torch")
    for package in NEEDS.get(name, []):
        pytest.importorskip(package)
    module = importlib.import_module(name)
    assert module.__all__, f"{name} declares no public names"
    for attr in module.__all__:
        exec(f"from {name} import {attr}", {})
