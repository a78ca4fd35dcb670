"""Suggestions: read a finished range-test curve and name a learning rate, or say why not.

Every method lives in one registry, shared by :func:`suggest` and the command line. A method
either returns a :class:`Suggestion` with a rate inside the swept range, or raises
:class:`NoSuggestionError` saying what is wrong with the curve and what to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._curve import _Curve, read_curve
from ._errors import LRFinderError, NoSuggestionError
from ._result import RangeTestResult, as_result
from ._smoothing import sma

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


def _descent_range(curve: _Curve, lr: float) -> tuple[float, float]:
    """The rates where the loss falls at least half as fast as at its steepest, widened to
    include ``lr``."""
    slope = np.gradient(curve.smooth, curve.log_lrs) if curve.smooth.size > 1 else curve.smooth
    end = max(curve.argmin, 1)
    steepest = float(np.min(slope[: end + 1]))
    if steepest >= 0:
        return lr, lr
    fast = slope <= 0.5 * steepest
    lo = hi = min(int(np.argmin(slope[: end + 1])), end)
    while lo > 0 and fast[lo - 1]:
        lo -= 1
    while hi < end and fast[hi + 1]:
        hi += 1
    return min(float(curve.lrs[lo]), lr), max(float(curve.lrs[hi]), lr)


def _make(curve: _Curve, method: str, lr: float, reason: str, **extra: Any) -> Suggestion:
    if not curve.lrs[0] <= lr <= curve.lrs[-1]:
        raise NoSuggestionError(
            f"`{method}` points at {lr:.3g}, outside the swept range "
            f"{curve.lrs[0]:.3g}..{curve.lrs[-1]:.3g}. Lower `start_lr` so the sweep begins "
            "where the loss is still flat."
        )
    index = max(int(np.searchsorted(curve.lrs, lr, side="right")) - 1, 0)
    low, high = _descent_range(curve, lr)
    return Suggestion(
        lr=float(lr),
        index=index,
        method=method,
        reason=reason,
        low=low,
        high=high,
        warnings=curve.warnings,
        **extra,
    )


def _descending_part(curve: _Curve, method: str) -> int:
    """The last index of the falling part of the curve (its lowest smoothed point)."""
    if curve.argmin < 2:
        raise NoSuggestionError(
            f"`{method}` found no falling stretch: the loss was lowest within the first "
            "two steps. Lower `start_lr` by a few decades."
        )
    return curve.argmin


# -- the methods ------------------------------------------------------------------------------
@register("minimum")
def _minimum(result: RangeTestResult, *, divisor: float = 10.0) -> Suggestion:
    """The rate at the lowest smoothed loss, divided by ``divisor`` (fastai's ``minimum``)."""
    curve = read_curve(result)
    if not divisor >= 1:
        raise LRFinderError(f"`divisor` must be at least 1. Received: divisor={divisor!r}")
    lr_min = float(curve.lrs[curve.argmin])
    return _make(
        curve,
        "minimum",
        lr_min / divisor,
        f"lowest smoothed loss at {lr_min:.3g}, divided by {divisor:g}",
    )


@register("steepest")
def _steepest(result: RangeTestResult) -> Suggestion:
    """The rate where the smoothed loss falls fastest against log10(rate)."""
    curve = read_curve(result)
    end = _descending_part(curve, "steepest")
    slope = np.gradient(curve.smooth[: end + 1], curve.log_lrs[: end + 1])
    i = int(np.argmin(slope))
    return _make(
        curve,
        "steepest",
        float(curve.lrs[i]),
        f"steepest descent of the smoothed loss: {slope[i]:.3g} per decade",
    )


def loss_change(raw: np.ndarray, window: int | None = None) -> tuple[int, np.ndarray]:
    """The loss's change per step, averaged over ``window`` steps (centred); the window used."""
    w = max(3, raw.size // 10) if window is None else window
    return w, sma(np.diff(raw, prepend=raw[0]), w, centred=True)


@register("sma_derivative")
def _sma_derivative(result: RangeTestResult, *, window: int | None = None) -> Suggestion:
    """Surmenok's rule: the rate where the loss's change per step, averaged over ``window``
    steps (a simple moving average), is most negative."""
    curve = read_curve(result)
    end = _descending_part(curve, "sma_derivative")
    w, averaged = loss_change(curve.raw, window)
    i = int(np.argmin(averaged[: end + 1]))
    return _make(
        curve,
        "sma_derivative",
        float(curve.lrs[i]),
        f"fastest fall of the loss per step ({averaged[i]:.3g}, {w}-step moving average)",
    )


@register("valley")
def _valley(result: RangeTestResult) -> Suggestion:
    """fastai's ``valley``: inside the longest stretch over which the loss keeps falling, the
    point about half-way (the start plus a third plus a sixth of its length)."""
    curve = read_curve(result)
    loss = curve.smooth
    n = loss.size
    # Longest decreasing subsequence ending at each point, O(n^2) like fastai (n is small).
    lds = np.ones(n, dtype=int)
    for i in range(1, n):
        lower = loss[:i] > loss[i]
        if lower.any():
            lds[i] = int(lds[:i][lower].max()) + 1
    end = int(np.argmax(lds))
    start = end - int(lds[end]) + 1
    length = end - start
    if length < 2:
        raise NoSuggestionError(
            "`valley` found no falling stretch longer than two steps. Lower `start_lr` or raise "
            "`num_steps`."
        )
    third = length / 3
    i = start + int(third) + int(third / 2)
    return Suggestion(
        lr=float(curve.lrs[i]),
        index=i,
        method="valley",
        reason=f"inside the longest falling stretch, {curve.lrs[start]:.3g}..{curve.lrs[end]:.3g}",
        low=float(curve.lrs[start]),
        high=float(curve.lrs[end]),
        warnings=curve.warnings,
    )


@register("slide")
def _slide(
    result: RangeTestResult, *, lr_diff: int | None = None, threshold: float = 0.005
) -> Suggestion:
    """fastai's slide rule: walking left from the end of the curve, the first rate where the
    slope ``lr_diff`` steps apart agrees within ``threshold`` (on the loss scaled to 0..1)."""
    curve = read_curve(result)
    n = curve.smooth.size
    gap = max(2, round(0.15 * n)) if lr_diff is None else lr_diff
    if gap >= n:
        raise NoSuggestionError(
            f"`slide` needs more than lr_diff={gap} points; the curve has {n}. Raise `num_steps`."
        )
    span = float(np.ptp(curve.smooth)) or 1.0
    grad = np.gradient(curve.smooth / span)
    right = n - 1
    while right - gap >= 0 and abs(grad[right] - grad[right - gap]) > threshold:
        right -= 1
    if right - gap < 0:
        raise NoSuggestionError(
            "`slide` found no stretch where the slope settles. Raise `threshold` or `num_steps`."
        )
    i = right - gap
    return _make(
        curve,
        "slide",
        float(curve.lrs[i]),
        f"slope settles within {threshold:g} over {gap} steps below the blow-up",
    )


# The default rule registers itself; imported last, since it builds on the helpers above.
from . import _fall  # noqa: E402, F401
