"""The classic rules of reading a range-test curve, each registered under its name: fastai's
``minimum`` and ``valley``, the steepest descent, Surmenok's moving-average derivative, and
``slide``."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

import numpy as np

from .._core._checks import check_count, check_real, is_real
from .._core._errors import NoSuggestionError
from .._core._registry import Suggestion, register
from .._core._result import DEFAULT_SMOOTH_BETA, RangeTestResult
from .._core._smoothing import ema
from ._curve import _descending_part, _make, read_curve


@register("minimum")
def _minimum(result: RangeTestResult, *, divisor: float = 10.0) -> Suggestion:
    """The rate at the lowest smoothed loss, divided by ``divisor`` (fastai's ``minimum``)."""
    divisor = check_real("divisor", divisor, at_least=1.0)
    curve = read_curve(result)
    lr_min = float(curve.lrs[curve.argmin])
    return _make(
        curve,
        "minimum",
        lr_min / divisor,
        f"lowest smoothed loss at {lr_min:.3g}, divided by {divisor:g}",
    )


def _planned(result: RangeTestResult) -> int:
    """The steps the sweep planned (``num_steps``), or those recorded when it is not known."""
    planned: Any = result.settings.get("num_steps")
    return planned if isinstance(planned, int) and planned >= result.steps else result.steps


def _after_head(result: RangeTestResult, end: int) -> int:
    """Where a search for the fastest fall starts: past the first tenth of the planned steps,
    as torch-lr-finder, Surmenok's finder and fastai's ``lr_find`` skip it (the first losses,
    before training has moved them, are noise, and a centred average barely smooths them),
    unless the fall ends there."""
    skip = _planned(result) // 10
    return skip if skip < end else 0


@register("steepest")
def _steepest(result: RangeTestResult) -> Suggestion:
    """The rate where the smoothed loss falls fastest against log10(rate), or against the rate
    for a linear sweep (the sweep's own axis, as torch-lr-finder's per-step gradient), past
    the first tenth of the planned steps."""
    curve = read_curve(result)
    end = _descending_part(curve, "steepest")
    linear = result.settings.get("mode") == "linear"
    axis = curve.lrs if linear else curve.log_lrs
    slope = np.gradient(curve.smooth[: end + 1], axis[: end + 1])
    i = _after_head(result, end)
    i += int(np.argmin(slope[i:]))
    unit = "per unit of rate" if linear else "per decade"
    return _make(
        curve,
        "steepest",
        float(curve.lrs[i]),
        f"steepest descent of the smoothed loss: {float(slope[i]) * curve.scale:.3g} {unit}",
    )


@register("sma_derivative")
def _sma_derivative(result: RangeTestResult, *, window: int | None = None) -> Suggestion:
    """Surmenok's rule: the rate where the loss's change per step, averaged over ``window``
    steps (a simple moving average), is most negative, past the first tenth of the planned
    steps (Surmenok's finder skips the first 10 of its 100)."""
    if window is not None:
        window = check_count("window", window)
    curve = read_curve(result)
    end = _descending_part(curve, "sma_derivative")
    w, averaged = curve.averaged_change(window)
    i = _after_head(result, end)
    i += int(np.argmin(averaged[i : end + 1]))
    return _make(
        curve,
        "sma_derivative",
        float(curve.lrs[i]),
        f"fastest fall of the loss per step ({float(averaged[i]) * curve.scale:.3g}, "
        f"{w}-step moving average)",
    )


@register("valley")
def _valley(result: RangeTestResult) -> Suggestion:
    """fastai's ``valley``: inside the longest stretch over which the loss keeps falling, the
    point about half-way (the start plus a third plus a sixth of its length)."""
    curve = read_curve(result)
    end, longest = _longest_fall(curve.smooth)
    if longest < 3:
        raise NoSuggestionError(
            "`valley` found no falling stretch longer than two steps. Lower `start_lr` or raise "
            "`num_steps`."
        )
    # fastai's arithmetic: its start is one before the stretch's first point (end - longest),
    # and the stretch's length is the subsequence's.
    third = longest / 3
    i = end - longest + int(third) + int(third / 2)
    start = end - longest + 1  # the stretch's first point, for the range
    return Suggestion(
        lr=float(curve.lrs[i]),
        index=i,
        method="valley",
        reason=f"inside the longest falling stretch, {curve.lrs[start]:.3g}..{curve.lrs[end]:.3g}",
        low=float(curve.lrs[start]),
        high=float(curve.lrs[end]),
        warnings=curve.warnings,
    )


def _longest_fall(loss: np.ndarray) -> tuple[int, int]:
    """fastai's two numbers: the length of the longest strictly falling subsequence of ``loss``
    and the first index where one that long ends (its ``lds.max()`` and ``lds.argmax()``).

    Patience sorting, O(n log n): ``tails[k]`` holds the highest last loss of a falling
    subsequence of ``k + 1`` points (negated, so the list stays increasing for ``bisect``). A new
    point extends the longest one only when it lands past the end, so the last time the list
    grows is the first point where the longest subsequence ends.
    """
    tails: list[float] = []
    end = 0
    for i, value in enumerate((-loss).tolist()):
        k = bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            end = i
        else:
            tails[k] = value
    return end, len(tails)


# fastai's lr_find leaves out the last 5 recorded points before any rule reads them.
FASTAI_TAIL = 5


@register("slide")
def _slide(
    result: RangeTestResult, *, lr_diff: int | None = None, threshold: float = 0.005
) -> Suggestion:
    """fastai's slide rule, on the input fastai's ``lr_find`` gives it: the causal moving
    average of the loss (the one the test's stopping rule reads), without the first tenth of the
    planned steps and the last 5 recorded. Walking left from the end, it stops where the slopes
    ``lr_diff`` steps apart (default 15% of the planned steps, fastai's 15 of 100) agree within
    ``threshold``, in the loss's own units as in fastai, and suggests the rate just right of
    there.

    The blow-up is read as recorded (not clipped, as the other rules read it): its slopes are
    what the walk starts from.
    """
    if lr_diff is not None:
        lr_diff = check_count("lr_diff", lr_diff)
    threshold = check_real("threshold", threshold, at_least=0.0)
    curve = read_curve(result)
    setting: Any = result.settings.get("smooth_beta")
    beta = float(setting) if is_real(setting) and 0.0 <= setting < 1.0 else DEFAULT_SMOOTH_BETA
    planned = _planned(result)
    skip = planned // 10
    # fastai's lr_find reads losses[num_it // 10 : -5], cut at the first NaN.
    stop = min(curve.raw.size, result.steps - FASTAI_TAIL)
    lrs, smooth = curve.lrs[skip:stop], ema(curve.raw, beta)[skip:stop]
    n = smooth.size
    gap = max(2, round(0.15 * planned)) if lr_diff is None else lr_diff
    if gap >= n:
        raise NoSuggestionError(
            f"`slide` needs more than lr_diff={gap} points between the first {skip} and the "
            f"last {FASTAI_TAIL} (fastai's lr_find leaves those out); the curve has {n} there. "
            "Raise `num_steps`."
        )
    grad = np.gradient(smooth)
    limit = threshold / curve.scale  # the losses were divided by `scale` (1 unless huge)
    # Walking left from the end: the last point whose slope agrees with the one `gap` steps back
    # (a NaN difference counts as agreeing, as the walk's `>` test has it).
    settled = np.flatnonzero(~(np.abs(grad[gap:] - grad[:-gap]) > limit))
    if settled.size == 0:
        raise NoSuggestionError(
            "`slide` found no stretch where the slope settles. Raise `threshold` (it is in the "
            "loss's units) or `num_steps`."
        )
    # fastai keeps the left end of the last pair that still differed: one right of the first
    # pair that agrees, unless the very first pair agrees.
    i = min(int(settled[-1]) + 1, n - 1 - gap)
    return _make(
        curve,
        "slide",
        float(lrs[i]),
        f"slope settles within {threshold:g} over {gap} steps below the blow-up",
    )
