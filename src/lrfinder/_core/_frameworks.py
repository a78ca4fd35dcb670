"""The error raised when an adapter's framework is missing, with the command that installs it.

``import lrfinder`` loads no framework; each adapter imports its own at the top
(``lrfinder.torch`` imports torch). When that import fails, the adapter raises the
:class:`ImportError` built here instead of a bare ``ModuleNotFoundError``, naming the extra to
install; for Keras, installed without the backend it was asked to use, it names
``KERAS_BACKEND`` and the backends that are installed.
"""

from __future__ import annotations

import importlib.util
import os

# The backends Keras 3 runs on, in the order its documentation lists them.
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "openvino")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken finder
        return False


def missing_framework(
    exc: ModuleNotFoundError, *, module: str, framework: str, extra: str
) -> ImportError:
    """The error for ``module`` (``"lrfinder.torch"``) when importing ``framework`` failed."""
    return ImportError(
        f"`{module}` needs {framework}, which could not be imported ({exc}). Install it with: "
        f'pip install "lrfinder[{extra}]"',
        name=exc.name,
    )


def missing_keras(exc: ModuleNotFoundError) -> ImportError:
    """The error for ``lrfinder.keras``: Keras missing, or installed without its backend."""
    missing = (exc.name or "").split(".")[0]
    if missing not in KERAS_BACKENDS or missing == "keras":
        return missing_framework(exc, module="lrfinder.keras", framework="Keras 3", extra="keras")
    chosen = os.environ.get("KERAS_BACKEND")
    asked = (
        f"KERAS_BACKEND={chosen!r}"
        if chosen
        else "KERAS_BACKEND is not set (Keras then reads ~/.keras/keras.json, else tensorflow)"
    )
    installed = [b for b in KERAS_BACKENDS if b != missing and _installed(b)]
    choice = (
        f"Installed here: {', '.join(installed)}; set e.g. KERAS_BACKEND={installed[0]}"
        if installed
        else "No backend is installed here: pip install jax, torch or tensorflow"
    )
    return ImportError(
        f"Keras could not load its backend {missing!r} ({exc}): {asked}. Set the environment "
        f"variable KERAS_BACKEND, before Keras is first imported, to a backend that is "
        f"installed. {choice}.",
        name=exc.name,
    )
