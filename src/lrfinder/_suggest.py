"""Suggestions: read a finished range-test curve and name a learning rate, or say why not.

Every method lives in one registry, shared by :func:`suggest` and the command line. A method
either returns a :class:`Suggestion` with a rate inside the swept range, or raises
:class:`NoSuggestionError` saying what is wrong with the curve and what to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import LRFinderError, NoSuggestionError
from ._result import RangeTestResult, as_result
from ._smoothing import ema, sma

MIN_POINTS = 5
# Until the quality benchmark settles the default, `minimum` is the best rule in our measurements.
DEFAULT_METHOD = "minimum"


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
    """

    lr: float
    index: int
    method: str
    reason: str
    low: float
    high: float
    confidence: float | None = None
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.lr:.3g} ({self.method}: {self.reason})"


SuggestFn = Callable[..., Suggestion]
_REGISTRY: dict[str, SuggestFn] = {}


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
    result: RangeTestResult | tuple[Any, Any], method: str | None = None, **options: Any
) -> Suggestion:
    """Suggest a learning rate from a range-test curve.

    Args:
        result: a :class:`RangeTestResult`, or an ``(lrs, losses)`` pair.
        method: a name from :func:`methods`; ``None`` uses the default (``minimum`` for now).
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
    """
    name = DEFAULT_METHOD if method is None else method
    if name not in _REGISTRY:
        raise LRFinderError(
            f"Unknown suggestion method {name!r}. Choose one of: {', '.join(methods())}"
        )
    return _REGISTRY[name](as_result(result), **options)


def suggest_all(result: RangeTestResult) -> dict[str, Suggestion | NoSuggestionError]:
    """Every registered method's suggestion, or the reason it has none."""
    out: dict[str, Suggestion | NoSuggestionError] = {}
    for name in methods():
        try:
            out[name] = suggest(result, name)
        except NoSuggestionError as exc:
            out[name] = exc
    return out


# -- reading the curve ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Curve:
    """The finite part of a curve, smoothed with a centred average, and its lowest point."""

    lrs: np.ndarray
    raw: np.ndarray
    smooth: np.ndarray
    argmin: int
    warnings: tuple[str, ...]

    @property
    def log_lrs(self) -> np.ndarray:
        return np.log10(self.lrs)


def smoothing_span(n: int) -> float:
    """The span (in points) of the centred average used to read an ``n``-point curve."""
    return float(min(max(n / 15.0, 3.0), 50.0))


def read_curve(result: RangeTestResult) -> _Curve:
    """Check that a curve can be read and smooth it; raise :class:`NoSuggestionError` if not."""
    losses = result.losses
    finite = np.isfinite(losses)
    stop = losses.size if finite.all() else int(np.argmin(finite))
    if stop < MIN_POINTS:
        raise NoSuggestionError(
            f"Too few points: {stop} finite loss(es) before the test stopped, {MIN_POINTS} needed. "
            "Lower `start_lr`, or raise `num_steps` so the sweep takes smaller strides."
        )
    # Past the lowest point, once the loss is back above where it started the run has blown up;
    # those points say nothing about good rates and would leak into a centred average.
    start_level = float(np.median(losses[: min(5, stop)]))
    lowest = int(np.argmin(losses[:stop]))
    above = np.nonzero(losses[lowest:stop] > start_level)[0]
    if above.size:
        stop = max(lowest + int(above[0]) + 1, MIN_POINTS)
    lrs, raw = result.lrs[:stop], losses[:stop]
    span = smoothing_span(stop)
    smooth = ema(raw, 1.0 - 2.0 / (span + 1.0), centred=True)
    argmin = int(np.argmin(smooth))
    scale = max(abs(float(smooth[0])), abs(float(smooth[argmin])), 1e-12)
    drop = float(smooth[0] - smooth[argmin])
    if drop <= 0.01 * scale:
        if argmin == 0 and smooth[-1] > smooth[0]:
            raise NoSuggestionError(
                "The loss never fell: it was lowest at the very first rate "
                f"({lrs[0]:.3g}) and only rose after. Lower `start_lr` by a few decades."
            )
        raise NoSuggestionError(
            "The curve is flat: the smoothed loss fell by "
            f"{drop / scale:.2%} of its size over the whole sweep. Raise `end_lr`, or check that "
            "the loss depends on the parameters the optimizer updates."
        )
    warnings: list[str] = []
    if result.stop_reason == "completed" and argmin >= stop - max(2, stop // 20):
        warnings.append(
            "The loss was still falling at `end_lr`; raise `end_lr` to see where it turns."
        )
    return _Curve(lrs=lrs, raw=raw, smooth=smooth, argmin=argmin, warnings=tuple(warnings))


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
