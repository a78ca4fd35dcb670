"""The error raised when a tracker's library is missing, naming the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, *, tracker: str, extra: str, function: str) -> ModuleType:
    """Import ``module`` for ``function``; an :class:`ImportError` with the pip command if not."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"`lrfinder.trackers.{function}` needs {tracker}, which could not be imported "
            f'({exc}). Install it with: pip install "lrfinder[{extra}]"',
            name=exc.name,
        ) from exc
