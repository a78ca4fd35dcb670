"""Suggestions: the :class:`Suggestion` a rule returns, and the registry of rules.

Every method lives in one registry, shared by :func:`suggest` and the command line. A method
either returns a :class:`Suggestion` with a rate inside the swept range, or raises
:class:`NoSuggestionError` saying what is wrong with the curve and what to change. The rules
themselves read the curve one layer up (``lrfinder._reading``) and register here when imported:
the core dispatches to them by name and never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._errors import LRFinderError, NoSuggestionError
from ._result import RangeTestResult, as_result

# The rule with the lowest regret against grid search on benchmarks/quality (see BENCHMARKS.md).
DEFAULT_METHOD = "fall"
SCHEDULES = ("constant", "onecycle")


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
        return f"{self.lr:.3g} ({self.method}: {self.reason})"


SuggestFn = Callable[..., Suggestion]
_REGISTRY: dict[str, SuggestFn] = {}
# Methods whose rate depends on how it will be used; they take a `for_schedule` keyword.
_SCHEDULE_AWARE = {"fall"}
# Sweeps whose rates spread more than this (decades, standard deviation) are flagged.
SPREAD_WARN = 0.2


def register(name: str) -> Callable[[SuggestFn], SuggestFn]:
    """Add a method to the registry under ``name``; it takes a result and keyword options."""

    def add(fn: SuggestFn) -> SuggestFn:
        if name in _REGISTRY:
            raise LRFinderError(f"A suggestion method named {name!r} is already registered.")
        _REGISTRY[name] = fn
        return fn

    return add


def methods() -> tuple[str, ...]:
    """The names of every registered suggestion method."""
    return tuple(_REGISTRY)


def suggest(
    result: RangeTestResult | tuple[Any, Any] | Sequence[RangeTestResult],
    method: str | None = None,
    *,
    for_schedule: str = "constant",
    **options: Any,
) -> Suggestion:
    """Suggest a learning rate from a range-test curve (or several: one per repeated sweep).

    The default method, ``fall``, is the rate at which the smoothed loss has done 90% of its fall
    from where it started to its lowest point (95% for a one-cycle peak), at most a quarter of
    the rate at that lowest point (half for a one-cycle peak); on the quality
    benchmark (grid search over 13 training setups, ``BENCHMARKS.md``) its rates train with the
    lowest mean regret of all the rules measured, for a constant rate and a one-cycle peak alike.

    Args:
        result: a :class:`RangeTestResult`, an ``(lrs, losses)`` pair, or a list of results from
            repeated sweeps: each is read, the median rate is suggested and ``spread`` says how
            much they disagree.
        method: a name from :func:`methods`; ``None`` uses :data:`DEFAULT_METHOD`.
        for_schedule: how the rate will be used: ``"constant"`` for the whole run, or
            ``"onecycle"`` as the peak (``max_lr``) of a one-cycle schedule (Smith & Topin 2017).
            Read by ``fall``; other methods suggest one rate for every use.
        **options: passed to the method (e.g. ``window`` for ``sma_derivative``).

    Raises:
        NoSuggestionError: the curve holds no usable rate; the message says why and what to change.

    Example:
        >>> import numpy as np
        >>> lrs = np.logspace(-5, 0, 60)
        >>> losses = 1 / (1 + np.exp(4 * (np.log10(lrs) + 2))) + np.where(lrs > 0.1, lrs * 20, 0)
        >>> s = suggest((lrs, losses), "steepest")
        >>> 3e-3 < s.lr < 3e-2
        True
        >>> 3e-3 < suggest((lrs, losses)).lr < 3e-2  # capped: the blow-up follows the fall closely
        True
    """
    name = DEFAULT_METHOD if method is None else method
    if name not in _REGISTRY:
        raise LRFinderError(
            f"Unknown suggestion method {name!r}. Choose one of: {', '.join(methods())}"
        )
    if for_schedule not in SCHEDULES:
        raise LRFinderError(
            f"`for_schedule` must be one of {', '.join(SCHEDULES)}. "
            f"Received: for_schedule={for_schedule!r}"
        )
    if name in _SCHEDULE_AWARE:
        options = {**options, "for_schedule": for_schedule}
    elif for_schedule != "constant":
        raise LRFinderError(
            f"`{name}` suggests the same rate for every schedule; `for_schedule` is read by "
            f"{', '.join(sorted(_SCHEDULE_AWARE))}. Received: for_schedule={for_schedule!r}"
        )
    if isinstance(result, (list, tuple)) and any(isinstance(r, RangeTestResult) for r in result):
        return _combine([_REGISTRY[name](as_result(r), **options) for r in result])
    if isinstance(result, (list, tuple)) and len(result) != 2:
        raise LRFinderError(
            "Pass a RangeTestResult, an (lrs, losses) pair, or a list of results. "
            f"Received a {type(result).__name__} of length {len(result)}"
        )
    return _REGISTRY[name](as_result(result), **options)


def _combine(suggestions: list[Suggestion]) -> Suggestion:
    """One suggestion from several sweeps: the median rate, and how far apart they were."""
    logs = np.log10([s.lr for s in suggestions])
    spread = float(np.std(logs))
    middle = suggestions[int(np.argsort(logs)[len(logs) // 2])]
    lr = float(10 ** np.median(logs))
    warnings = list(dict.fromkeys(w for s in suggestions for w in s.warnings))
    if spread > SPREAD_WARN:
        warnings.append(
            f"The {len(suggestions)} sweeps disagree: their rates spread over {spread:.2f} "
            "decades (standard deviation). Use larger batches or more `num_steps`."
        )
    confidences = [s.confidence for s in suggestions if s.confidence is not None]
    confidence = None
    if confidences:
        confidence = float(np.median(confidences)) * float(np.exp(-spread / SPREAD_WARN))
    return replace(
        middle,
        lr=lr,
        reason=f"median of {len(suggestions)} sweeps: {middle.reason}",
        low=float(10 ** np.median(np.log10([s.low for s in suggestions]))),
        high=float(10 ** np.median(np.log10([s.high for s in suggestions]))),
        confidence=confidence,
        warnings=tuple(warnings),
        spread=spread,
    )


def suggest_all(result: RangeTestResult) -> dict[str, Suggestion | NoSuggestionError]:
    """Every registered method's suggestion, or the reason it has none."""
    out: dict[str, Suggestion | NoSuggestionError] = {}
    for name in methods():
        try:
            out[name] = suggest(result, name)
        except NoSuggestionError as exc:
            out[name] = exc
    return out
