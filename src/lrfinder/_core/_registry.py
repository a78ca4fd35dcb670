"""The registry of suggestion rules, and the :class:`Suggestion` each returns.

Every rule lives in one registry, shared by :func:`lrfinder.suggest`, ``RangeTestResult.suggestion``
and the command line. A rule either returns a :class:`Suggestion` with a rate inside the swept
range, or raises :class:`NoSuggestionError` saying what is wrong with the curve and what to change.
The rules themselves read the curve one layer up (``lrfinder._reading``) and register here when
imported: the core dispatches to them by name and never imports them.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._apply import apply_rate
from ._display import html
from ._errors import LRFinderError, LRFinderWarning
from ._names import schedule_name

if TYPE_CHECKING:
    from ._result import RangeTestResult

# The rule with the lowest regret against grid search on benchmarks/quality (see BENCHMARKS.md).
DEFAULT_METHOD = "fall"
SCHEDULES = ("constant", "one_cycle")  # what for_schedule takes; aliases in _names


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate and where it came from.

    Attributes:
        lr: the suggested rate (for the first parameter group; others keep their ratio).
        index: the step of the curve whose rate is closest to ``lr`` without exceeding it.
        method: the registry name of the rule that produced it.
        reason: one sentence on why this rate.
        low, high: the range of rates where the loss falls fastest, around the suggestion.
        confidence: 0..1 where the method estimates one, else None.
        warnings: reasons to distrust this curve, if any.
        spread: with several sweeps (``suggest([r1, r2, ...])``), the standard deviation of
            their rates in decades (log10 units); None for one sweep.
    """

    lr: float
    index: int
    method: str
    reason: str
    low: float
    high: float
    confidence: float | None = None
    warnings: tuple[str, ...] = ()
    spread: float | None = None

    def __str__(self) -> str:
        """The rate and why, its confidence, and every warning on a line of its own."""
        head = f"{self.lr:.3g} ({self.method}: {self.reason})"
        if self.confidence is not None:
            head += f", confidence {self.confidence:.2f}"
        if self.spread is not None:
            head += f", spread {self.spread:.2f} decades"
        return "\n".join([head, *(f"  warning: {w}" for w in self.warnings)])

    def __repr__(self) -> str:
        confidence = "None" if self.confidence is None else f"{self.confidence:.2f}"
        return (
            f"Suggestion(lr={self.lr:.3g}, method={self.method!r}, confidence={confidence}, "
            f"warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str | None:
        return html(self)

    def apply(self, optimizer: Any) -> Any:
        """Set this rate on ``optimizer`` and return it, e.g. ``result.suggestion.apply(opt)``.

        A PyTorch optimizer gets it on its first parameter group, and every other group keeps
        its ratio to the first (see ``lrfinder.torch.apply``); a compiled Keras model or its
        optimizer gets it as ``learning_rate`` (``lrfinder.keras.apply``). An Optax state from
        ``optax.inject_hyperparams`` is immutable: the new state is returned, so write
        ``opt_state = suggestion.apply(opt_state)`` (``lrfinder.optax.apply``).
        """
        return apply_rate(optimizer, self.lr)


def warn_untrusted(suggestion: Suggestion, *, stacklevel: int = 2) -> Suggestion:
    """Raise an :class:`LRFinderWarning` when ``suggestion`` carries warnings; return it.

    ``stacklevel`` counts from the caller of this function, as ``warnings.warn`` does.
    """
    if suggestion.warnings:
        count = len(suggestion.warnings)
        _warnings.warn(
            f"The suggested rate {suggestion.lr:.3g} ({suggestion.method}) comes from a curve "
            f"not to be trusted as it is ({count} warning{'s' if count > 1 else ''}): "
            + " ".join(suggestion.warnings),
            LRFinderWarning,
            stacklevel=stacklevel + 1,
        )
    return suggestion


SuggestFn = Callable[..., Suggestion]
_REGISTRY: dict[str, SuggestFn] = {}
# Methods whose rate depends on how it will be used; they take a `for_schedule` keyword.
_SCHEDULE_AWARE = {"fall"}


def register(name: str, *, overwrite: bool = False) -> Callable[[SuggestFn], SuggestFn]:
    """Add a method to the registry under ``name``; it takes a result and keyword options.

    Registering a name again with the same function, or with a new definition of it (the same
    module and qualified name, as re-running a notebook cell makes), replaces it quietly. A
    different function under a name that is taken is refused unless ``overwrite=True``.

    Examples:
        >>> import lrfinder
        >>> @lrfinder.register("tenth_of_minimum")  # doctest: +SKIP
        ... def tenth_of_minimum(result, **options):
        ...     return lrfinder.suggest(result, "minimum", divisor=100.0)
    """
    if not isinstance(name, str) or not name:
        raise LRFinderError(f"A method's name must be a non-empty string. Received: {name!r}")

    def add(fn: SuggestFn) -> SuggestFn:
        taken = _REGISTRY.get(name)
        if taken is not None and not overwrite and not _same_function(taken, fn):
            raise LRFinderError(
                f"A suggestion method named {name!r} is already registered "
                f"({_where(taken)}); pass overwrite=True to replace it with {_where(fn)}, or "
                "pick another name."
            )
        _REGISTRY[name] = fn
        return fn

    return add


def _same_function(a: SuggestFn, b: SuggestFn) -> bool:
    return a is b or (
        getattr(a, "__module__", None) == getattr(b, "__module__", None)
        and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None) is not None
    )


def _where(fn: SuggestFn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def methods() -> tuple[str, ...]:
    """The names of every registered suggestion method."""
    return tuple(_REGISTRY)


def apply(
    result: RangeTestResult,
    method: str | None = None,
    *,
    for_schedule: str = "constant",
    **options: Any,
) -> Suggestion:
    """Run one registered rule on one result, after checking the rule's name and its use."""
    name = DEFAULT_METHOD if method is None else method
    if name not in _REGISTRY:
        raise LRFinderError(
            f"Unknown suggestion method {name!r}. Choose one of: {', '.join(methods())}"
        )
    for_schedule = schedule_name(for_schedule, SCHEDULES, what="for_schedule")
    if name in _SCHEDULE_AWARE:
        options = {**options, "for_schedule": for_schedule}
    elif for_schedule != "constant":
        raise LRFinderError(
            f"`{name}` suggests the same rate for every schedule; `for_schedule` is read by "
            f"{', '.join(sorted(_SCHEDULE_AWARE))}. Received: for_schedule={for_schedule!r}"
        )
    return _REGISTRY[name](result, **options)
