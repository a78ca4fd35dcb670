import importlib
import importlib.util
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
        " 'sklearn', 'tqdm', 'lightning', 'pytorch_lightning', 'transformers', 'ray'}\n"
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
    "lrfinder.ray": ["ray.train"],
}


def test_the_public_modules_are_the_documented_ones() -> None:
    assert public_modules() == [
        "lrfinder",
        "lrfinder.cli",
        "lrfinder.huggingface",
        "lrfinder.keras",
        "lrfinder.lightning",
        "lrfinder.optax",
        "lrfinder.ray",
        "lrfinder.schedules",
        "lrfinder.torch",
        "lrfinder.trackers",
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


# Each adapter, the module its framework is blocked at, and the install hint it must print.
MISSING = [
    ("lrfinder.torch", "torch", "PyTorch", "torch"),
    ("lrfinder.keras", "keras", "Keras 3", "keras"),
    ("lrfinder.optax", "jax", "JAX and Optax", "jax"),
    ("lrfinder.optax", "optax", "JAX and Optax", "jax"),
    ("lrfinder.lightning", "lightning", "PyTorch Lightning", "trainers"),
    ("lrfinder.huggingface", "transformers", "Hugging Face transformers", "trainers"),
    ("lrfinder.ray", "ray", "Ray Train", "ray"),
]


def _import_blocked(module: str, blocked: str, env: dict[str, str] | None = None) -> str:
    """Import ``module`` in a fresh process where ``import blocked`` fails; its error message."""
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None  # `import {blocked}` raises ModuleNotFoundError\n"
        "import lrfinder\n"
        "try:\n"
        f"    import {module}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.strip()


@pytest.mark.parametrize(("module", "blocked", "framework", "extra"), MISSING)
def test_a_missing_framework_names_the_extra_to_install(
    module: str, blocked: str, framework: str, extra: str
) -> None:
    message = _import_blocked(module, blocked)
    assert message.startswith(f"ImportError `{module}` needs {framework}, which could not be")
    assert (
        f"No module named {blocked!r}" in message
        or f"import of {blocked} halted" in message
        or (
            f"{blocked!r} is not a package" in message  # `import lightning.pytorch`
        )
    )
    assert message.endswith(f'pip install "lrfinder[{extra}]"')


def test_keras_without_its_backend_says_to_set_keras_backend(tmp_path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "KERAS_HOME": str(tmp_path)}
    message = _import_blocked("lrfinder.keras", "tensorflow", env)
    assert message.startswith("ImportError Keras could not load its backend 'tensorflow'")
    assert "KERAS_BACKEND='tensorflow'. Set the environment variable KERAS_BACKEND" in message
    installed = [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]
    if installed:
        assert f"Installed here: {', '.join(installed)}; set e.g. KERAS_BACKEND=" in message
