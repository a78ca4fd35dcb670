"""Set a rate on an optimizer of any framework: each adapter registers how, the core dispatches.

``Suggestion.apply(optimizer)`` works for every framework lrfinder adapts without the core
importing one: the framework is read off the target's classes (their module's top-level
package), its adapter (``lrfinder.torch``...) is imported by name the first time, and the
adapter's ``apply``, which registered itself on import, sets the rate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ._errors import LRFinderError

# The top-level package of a target's class, and the adapter that knows how to set its rate.
ADAPTERS = {"torch": "lrfinder.torch", "keras": "lrfinder.keras", "optax": "lrfinder.optax"}
Applier = Callable[[Any, float], Any]
_APPLIERS: dict[str, Applier] = {}


def register_applier(framework: str) -> Callable[[Applier], Applier]:
    """Register ``fn(target, lr) -> target`` as the way to set a rate in ``framework``."""

    def add(fn: Applier) -> Applier:
        _APPLIERS[framework] = fn
        return fn

    return add


def framework_of(target: Any) -> str | None:
    """The adapted framework ``target`` belongs to (the first of its classes that is one's)."""
    for cls in type(target).__mro__:
        root = (getattr(cls, "__module__", None) or "").partition(".")[0]
        if root in ADAPTERS:
            return root
    return None


def rate_of(value: Any) -> float:
    """The rate of a number, a :class:`Suggestion` or a ``TuneResult`` (anything with ``lr``)."""
    lr = getattr(value, "lr", value)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < float(lr) < float("inf"):
        raise LRFinderError(
            "The rate to set must be a finite number above 0, a Suggestion or a TuneResult. "
            f"Received: {value!r}"
        )
    return float(lr)


def apply_rate(target: Any, lr: float) -> Any:
    """Set ``lr`` on ``target`` through its framework's adapter; return what the adapter does."""
    framework = framework_of(target)
    if framework is None:
        raise LRFinderError(
            "`apply` sets the rate of a PyTorch optimizer, a compiled Keras model or its "
            "optimizer, or an Optax state from optax.inject_hyperparams. Received a "
            f"{type(target).__name__}. For an Optax state inside a chain, call "
            "lrfinder.optax.apply(opt_state, suggestion); elsewhere set suggestion.lr yourself."
        )
    if framework not in _APPLIERS:
        importlib.import_module(ADAPTERS[framework])  # the adapter registers its applier
    return _APPLIERS[framework](target, lr)
