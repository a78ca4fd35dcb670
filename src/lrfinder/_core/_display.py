"""How the core's results show themselves: plots and notebook HTML, drawn by the layer above.

``RangeTestResult.plot()`` and the ``_repr_html_`` that Jupyter calls need matplotlib and the
presentation layer (``lrfinder._plotting``), which sits above every other layer. The core cannot
import it, so the presentation layer registers its functions here by name when it is imported
(``import lrfinder`` does so), and the core's methods look them up: the same plug-in shape as
the registry of suggestion rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._errors import LRFinderError

_PROVIDED: dict[str, Callable[..., Any]] = {}


def provide(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the presentation of ``name`` (``"plot:RangeTestResult"``...)."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        _PROVIDED[name] = fn
        return fn

    return add


def present(name: str, *args: Any, **options: Any) -> Any:
    """Call the presentation registered as ``name``."""
    fn = _PROVIDED.get(name)
    if fn is None:
        raise LRFinderError(
            f"Nothing draws {name!r}: the presentation layer was not loaded. "
            "Import lrfinder (import lrfinder) before calling it."
        )
    return fn(*args, **options)


def html(obj: Any) -> str | None:
    """The notebook HTML of ``obj``, or None (Jupyter then shows its text repr)."""
    fn = _PROVIDED.get(f"html:{type(obj).__name__}")
    return None if fn is None else fn(obj)
