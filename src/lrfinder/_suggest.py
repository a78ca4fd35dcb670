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

from ._errors import LRFinderError, NoSuggestionError
from ._result import RangeTestResult, as_result
from ._smoothing import ema, sma

MIN_POINTS = 5
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


# -- reading the curve ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Curve:
    """The finite part of a curve, smoothed with a centred average, and its lowest point."""

    lrs: np.ndarray
    raw: np.ndarray
    smooth: np.ndarray
    argmin: int
    warnings: tuple[str, ...]
    start: float = 0.0  # the loss before training moved it: median of the first points
    noise: float = 0.0  # robust spread of the raw loss around the smoothed one, pre-minimum

    @property
    def log_lrs(self) -> np.ndarray:
        return np.log10(self.lrs)

    @property
    def drop(self) -> float:
        """How far the smoothed loss fell from its start to its lowest point."""
        return self.start - float(self.smooth[self.argmin])


def smoothing_span(n: int) -> float:
    """The span (in points) of the centred average used to read an ``n``-point curve."""
    return float(min(max(n / 15.0, 3.0), 50.0))


# Below this many finite points the curve is read but its suggestion is flagged.
FEW_POINTS = 30
# Below this ratio of the fall to the step-to-step noise, the curve is flagged as too noisy.
NOISY_SNR = 2.0
# A fall under 1% of the loss and under this many times the noise is a flat curve.
FLAT_SNR = 3.0


def read_curve(result: RangeTestResult) -> _Curve:
    """Check that a curve can be read and smooth it; raise :class:`NoSuggestionError` if not.

    The blow-up at the end of a sweep can be thousands of times the loss; a centred average
    would smear it back over the minimum, so losses above ``start + (start - lowest)`` are
    clipped to that level before smoothing (the shape of the fall is untouched).
    """
    losses = result.losses
    finite = np.isfinite(losses)
    stop = losses.size if finite.all() else int(np.argmin(finite))
    if stop < MIN_POINTS:
        raise NoSuggestionError(
            f"Too few points: {stop} finite loss(es) before the test stopped, {MIN_POINTS} needed. "
            "Lower `start_lr`, or raise `num_steps` so the sweep takes smaller strides."
        )
    lrs, raw = result.lrs[:stop], losses[:stop]
    start = float(np.median(raw[: max(MIN_POINTS, stop // 10)]))
    ceiling = start + max(start - float(np.min(raw)), 0.0)
    span = smoothing_span(stop)
    smooth = ema(np.minimum(raw, ceiling), 1.0 - 2.0 / (span + 1.0), centred=True)
    argmin = int(np.argmin(smooth))
    scale = max(abs(float(smooth[0])), float(np.max(np.abs(smooth))), 1e-12)
    drop = float(smooth[0] - smooth[argmin])
    residual = (raw - smooth)[: argmin + 1]
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    # A shallow fall still counts when it stands clear of the noise (a hard problem at the start
    # of training falls by a fraction of a percent); flat means small *and* lost in the noise.
    if drop <= 0.01 * scale and drop <= FLAT_SNR * noise:
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
    if stop < FEW_POINTS:
        warnings.append(
            f"Few points: {stop} finite losses (at least {FEW_POINTS} read reliably); raise "
            "`num_steps` or lower `start_lr`."
        )
    if argmin < max(3, stop // 10):
        warnings.append(
            f"The loss diverged almost at once (lowest at step {argmin} of {stop}); lower "
            "`start_lr` by a few decades so the sweep starts where the loss is flat."
        )
    fall = start - float(smooth[argmin])
    if noise > 0 and fall < NOISY_SNR * noise:
        warnings.append(
            f"Too noisy: the loss fell by {fall:.3g}, only {fall / noise:.1f} times its "
            "step-to-step noise; use larger batches, more `num_steps`, or `repeats`."
        )
    return _Curve(
        lrs=lrs,
        raw=raw,
        smooth=smooth,
        argmin=argmin,
        warnings=tuple(warnings),
        start=start,
        noise=noise,
    )


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


# -- the default ------------------------------------------------------------------------------
# `fall` reads the rate at which the smoothed loss has done FALL_FRACTION of its fall, then
# shifts it by OFFSET decades, both per use. Both were chosen on the development half of the
# quality benchmark only (benchmarks/quality, BENCHMARKS.md): the fraction among 50..95% and the
# lowest points and fastest-descent rules, the offset in steps of 0.05 decades, by mean regret.
# The peak of a one-cycle schedule is held only briefly, so it tolerates a rate further down the
# fall: 95% with no offset had both a lower regret and a smaller distance than 90% + 0.1 there.
FALL_FRACTION = {"constant": 0.9, "onecycle": 0.95}
OFFSET = {"constant": -0.05, "onecycle": 0.0}
# ...and never closer than MARGIN decades below the lowest point of the curve (x1/4 for a constant
# rate, x1/2 for a one-cycle peak). Where the loss turns from a steep fall straight into the
# blow-up (plain MLPs under SGD+momentum), the lowest point is cut short by the instability, so
# 90% of that truncated fall sits at the edge of it; trained for a whole budget, such a rate
# diverges. Chosen on the development half (constant: lowest regret, ties by distance; one-cycle:
# the development half could not tell 0 to 0.3 apart, half the constant margin was taken) and
# checked on setups added afterwards (BENCHMARKS.md, "Third round").
MARGIN = {"constant": 0.6, "onecycle": 0.3}
# The range: from where the fall is this far done, up to the lowest point.
RANGE_FROM = 0.5


def _crossing(curve: _Curve, fraction: float) -> float:
    """log10 of the first rate where the smoothed loss has done ``fraction`` of its fall,
    interpolated between the two steps around it."""
    target = curve.start - fraction * curve.drop
    smooth = curve.smooth[: curve.argmin + 1]
    i = int(np.argmax(smooth <= target))
    logs = curve.log_lrs
    if i == 0:
        return float(logs[0])
    above, below = float(smooth[i - 1]), float(smooth[i])
    t = (above - target) / (above - below) if above > below else 1.0
    return float(logs[i - 1] + min(max(t, 0.0), 1.0) * (logs[i] - logs[i - 1]))


def _confidence(curve: _Curve) -> float:
    """0..1: how deep the fall is against the noise, times how many steps it was sampled at."""
    snr = curve.drop / curve.noise if curve.noise > 0 else 100.0
    steps = abs(_crossing(curve, 0.9) - _crossing(curve, 0.1))
    per_step = abs(float(curve.log_lrs[-1] - curve.log_lrs[0])) / max(curve.lrs.size - 1, 1)
    sampled = steps / per_step if per_step > 0 else 0.0
    value = (1.0 - np.exp(-snr / 3.0)) * min(1.0, sampled / 10.0)
    return float(value) * (0.5 if curve.warnings else 1.0)


@register("fall")
def _fall(result: RangeTestResult, *, for_schedule: str = "constant") -> Suggestion:
    """The rate at which the smoothed loss has done 90% of its fall from its starting level to
    its lowest point (95% for the peak of a one-cycle schedule), shifted by a per-use offset, and
    at most a quarter of the rate at the lowest point (half for a one-cycle peak); all measured
    on the quality benchmark.

    Unlike the lowest point (which sits at the edge of the blow-up and moves with the noise) and
    the steepest descent (which reads a derivative, noisier still), this crossing is read off the
    smoothed loss itself, inside the part of the curve where training still works.
    """
    if for_schedule not in OFFSET:
        raise LRFinderError(
            f"`for_schedule` must be one of {', '.join(OFFSET)}. "
            f"Received: for_schedule={for_schedule!r}"
        )
    try:
        curve = read_curve(result)
    except NoSuggestionError as flat:
        if not str(flat).startswith("The curve is flat"):
            raise
        return _below_blowup(result, flat)
    _descending_part(curve, "fall")
    fraction = FALL_FRACTION[for_schedule]
    log_lr = _crossing(curve, fraction) + OFFSET[for_schedule]
    lowest = float(curve.log_lrs[curve.argmin])
    capped = log_lr > lowest - MARGIN[for_schedule]
    reason = (
        f"the smoothed loss has done {fraction:.0%} of its fall "
        f"({curve.start:.4g} to {curve.smooth[curve.argmin]:.4g})"
    )
    if capped:
        reason = (
            f"{1 / 10 ** MARGIN[for_schedule]:.2g} x the rate at the lowest smoothed loss "
            f"({10**lowest:.3g}), a cap: {reason} only at {10**log_lr:.3g}, too close to the "
            "blow-up"
        )
        log_lr = lowest - MARGIN[for_schedule]
    else:
        reason += " here"
    log_lr = min(max(log_lr, float(curve.log_lrs[0])), float(curve.log_lrs[-1]))
    lr = float(10**log_lr)
    index = max(int(np.searchsorted(curve.lrs, lr, side="right")) - 1, 0)
    low = min(float(10 ** _crossing(curve, RANGE_FROM)), lr)
    high = max(float(curve.lrs[curve.argmin]), lr)
    return Suggestion(
        lr=lr,
        index=index,
        method="fall",
        reason=f"{reason}; for a {for_schedule} schedule",
        low=low,
        high=high,
        confidence=_confidence(curve),
        warnings=curve.warnings,
    )


# When the loss never visibly falls, Smith's advice still applies: the largest usable rate is
# just before the blow-up and a safe one is 1-2 decades below it.
BLOWUP_DECADES = 2.0


def _below_blowup(result: RangeTestResult, flat: NoSuggestionError) -> Suggestion:
    """A low-confidence rate for a curve that is flat and then blows up, or ``flat`` raised."""
    losses = result.losses
    finite = np.isfinite(losses)
    stop = losses.size if finite.all() else int(np.argmin(finite))
    lrs, raw = result.lrs[:stop], losses[:stop]
    plateau = raw[: stop // 2]
    level = float(np.median(plateau))
    noise = 1.4826 * float(np.median(np.abs(plateau - level)))
    span = smoothing_span(stop)
    # Clipped first, so the blow-up's huge values cannot leak back through the centred average.
    ceiling = level + 4.0 * max(noise, 1e-12)
    smooth = ema(np.minimum(raw, ceiling), 1.0 - 2.0 / (span + 1.0), centred=True)
    rising = np.flatnonzero(smooth > level + 2.0 * max(noise, 1e-12))
    rising = rising[rising >= stop // 2]
    if rising.size == 0:
        raise flat
    edge = float(lrs[int(rising[0])])
    lr = edge / 10**BLOWUP_DECADES
    if lr < lrs[0]:
        raise flat
    index = max(int(np.searchsorted(lrs, lr, side="right")) - 1, 0)
    return Suggestion(
        lr=lr,
        index=index,
        method="fall",
        reason=(
            f"the loss never clearly fell; {BLOWUP_DECADES:g} decades below where it starts "
            f"to rise ({edge:.3g})"
        ),
        low=max(lr / 10, float(lrs[0])),
        high=edge / 10,
        confidence=0.1,
        warnings=(
            f"Flat curve: the loss did not clearly fall before rising at {edge:.3g}. The rate "
            "is a safe guess below the blow-up, not a reading of the fall; sweep with more "
            "`num_steps` or check the model trains at all.",
        ),
    )
