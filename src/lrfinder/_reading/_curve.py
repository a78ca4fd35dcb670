"""Reading a finished range-test curve: its finite part, smoothed with a centred average,
its lowest point and the reasons not to trust it."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from .._core._errors import NoSuggestionError
from .._core._registry import Suggestion
from .._core._result import RangeTestResult
from .._core._smoothing import ema, finite_prefix, sma

MIN_POINTS = 5


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
    # `raw`, `smooth`, `start` and `noise` are in units of `scale` (a power of two, 1 unless the
    # losses are too large to average without overflow); multiply by it to report a loss.
    scale: float = 1.0

    @cached_property
    def log_lrs(self) -> np.ndarray:
        return _frozen(np.log10(self.lrs))

    @cached_property
    def falling_slope(self) -> np.ndarray:
        """The smoothed loss's slope against log10(rate) at every point up to its lowest one (at
        least the first two): the full curve's values (to rounding), computed over one point
        more, not over the whole curve."""
        if self.smooth.size < 2:
            return self.smooth
        end = max(self.argmin, 1)
        stop = min(end + 2, self.smooth.size)
        return _frozen(np.gradient(self.smooth[:stop], np.log10(self.lrs[:stop]))[: end + 1])

    @cached_property
    def change(self) -> np.ndarray:
        """The raw loss's change per step (0 at the first step)."""
        return _frozen(np.diff(self.raw, prepend=self.raw[0]))

    def averaged_change(self, window: int | None = None) -> tuple[int, np.ndarray]:
        """The change per step averaged over ``window`` steps (centred; default a tenth of the
        curve, at least 3), and the window used. Kept per window: the ``sma_derivative`` rule
        and the derivative panel read the same one."""
        w = max(3, self.raw.size // 10) if window is None else window
        kept: dict[int, np.ndarray] = self.__dict__.setdefault("_averaged_change", {})
        if w not in kept:
            kept[w] = _frozen(sma(self.change, w, centred=True))
        return w, kept[w]

    @property
    def drop(self) -> float:
        """How far the smoothed loss fell from its start to its lowest point."""
        return self.start - float(self.smooth[self.argmin])

    @property
    def too_noisy(self) -> bool:
        """Whether the fall is under :data:`NOISY_SNR` times the step-to-step noise."""
        return self.noise > 0 and self.drop < NOISY_SNR * self.noise


# Losses larger than this (in absolute value) are divided by a power of two before any sum or
# difference, which would overflow near the float maximum (1.8e308); the shape is unchanged.
SAFE_MAGNITUDE = 2.0**400


def loss_scale(values: np.ndarray) -> float:
    """1.0, or the power of two that brings the largest finite ``|value|`` under 2 when it is
    above :data:`SAFE_MAGNITUDE` (a division by it is exact)."""
    finite = values[np.isfinite(values)]
    largest = float(np.max(np.abs(finite))) if finite.size else 0.0
    if largest <= SAFE_MAGNITUDE:
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


def smoothing_span(n: int) -> float:
    """The span (in points) of the centred average used to read an ``n``-point curve."""
    return float(min(max(n / 15.0, 3.0), 50.0))


# Below this many finite points the curve is read but its suggestion is flagged.
FEW_POINTS = 30
# Below this ratio of the fall to the step-to-step noise, the curve is flagged as too noisy.
NOISY_SNR = 2.0
# A fall under 1% of the loss and under this many times the noise is a flat curve.
FLAT_SNR = 3.0
# Relative changes this small are rounding (float32 resolves about 1.2e-7 of a loss), not a fall.
FLAT_RESOLUTION = 1e-6


# Why a test ended before its sweep did, and what to change, by stop reason.
EARLY_STOPS = {
    "data_exhausted": (
        "the data ran out",
        "pass more batches (at least `num_steps`), or a re-iterable loader (a DataLoader or a "
        "list, not a generator) that the test can cycle through",
    ),
    "stopped": (
        "the training loop ended the test (e.g. `fit` ran out of epochs)",
        "train for more epochs or steps so the test sees `num_steps` batches, or lower "
        "`num_steps` so the sweep reaches `end_lr` sooner",
    ),
}


def _early_stop(result: RangeTestResult, stop: int, lrs: np.ndarray) -> tuple[str, str] | None:
    """``(what happened, the fix)`` when the test ended before its sweep did, else None."""
    if result.stop_reason not in EARLY_STOPS:
        return None
    why, fix = EARLY_STOPS[result.stop_reason]
    planned = result.settings.get("num_steps")
    of = f" of {planned}" if isinstance(planned, int) else ""
    at = f", at {lrs[stop - 1]:.3g}" if stop else ""
    return f"{why} after {result.steps}{of} steps{at}", fix


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


# One reading per result, shared by every rule, suggest_all and the plots. A result is frozen
# (its arrays read-only), so its reading cannot change; it is keyed by identity (results compare
# by value and are unhashable) and dropped when the result is collected.
_READS: dict[int, tuple[weakref.ref[RangeTestResult], _Curve | NoSuggestionError]] = {}


def finite_part(result: RangeTestResult) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """The rates and losses to read, how many are finite before the first non-finite one (all
    of them when holes were left out), and the warning when there were holes.

    A test lrfinder runs stops at its first NaN or inf, so finite losses after one come from
    another tool (or were put together by hand): the finite points are read, with a warning.
    """
    lrs, losses = result.lrs, result.losses
    finite = np.isfinite(losses)
    stop = finite_prefix(losses)
    if not finite[stop:].any():
        return lrs, losses, stop, []
    bad = np.flatnonzero(~finite)
    shown = ", ".join(map(str, bad[:5])) + (", ..." if bad.size > 5 else "")
    warning = (
        f"{bad.size} non-finite loss(es) inside the curve (at step {shown}) were left out and "
        f"its {int(finite.sum())} finite points read; a range test lrfinder runs stops at the "
        "first one. Check the tool that recorded this curve."
    )
    return lrs[finite], losses[finite], int(finite.sum()), [warning]


def read_curve(result: RangeTestResult) -> _Curve:
    """Check that a curve can be read and smooth it; raise :class:`NoSuggestionError` if not.

    Read once per result: later calls return the same reading (or raise the same reason).
    """
    key = id(result)
    entry = _READS.get(key)
    if entry is not None and entry[0]() is result:
        known = entry[1]
    else:
        try:
            known = _read(result)
        except NoSuggestionError as exc:
            # Kept without its traceback, whose frames would keep the result alive.
            known = type(exc)(*exc.args)
        _READS[key] = (weakref.ref(result), known)
        weakref.finalize(result, _READS.pop, key, None)
    if isinstance(known, NoSuggestionError):
        raise type(known)(*known.args)
    return known


def _read(result: RangeTestResult) -> _Curve:
    """:func:`read_curve`, uncached.

    The blow-up at the end of a sweep can be thousands of times the loss; a centred average
    would smear it back over the minimum, so losses above ``start + (start - lowest)`` are
    clipped to that level before smoothing (the shape of the fall is untouched).
    """
    lrs, losses, stop, dropped = finite_part(result)
    early = _early_stop(result, stop, lrs)
    if stop == 0:
        first = "NaN" if np.isnan(losses[0]) else str(losses[0])
        raise NoSuggestionError(
            f"The loss was {first} from the first step (at {lrs[0]:.3g}), before "
            "training could move it: lower `start_lr`, and check the data and the model (NaN or "
            "inf in the inputs or targets, a loss undefined at the initial weights)."
        )
    if stop < MIN_POINTS:
        if early is not None:
            raise NoSuggestionError(
                f"Too few points: {early[0]}, with {stop} finite loss(es), {MIN_POINTS} needed. "
                f"To fix it, {early[1]}."
            )
        if stop == losses.size:  # no NaN cut the curve short: it has too few rows
            fix = (
                "Raise `num_steps`"
                if result.stop_reason == "completed"
                else "Log the rate and the loss at every step of the sweep (100 steps is typical)"
            )
            raise NoSuggestionError(
                f"Too few points: the curve has {stop} step(s), {MIN_POINTS} needed. {fix}."
            )
        raise NoSuggestionError(
            f"Too few points: {stop} finite loss(es) before the test stopped, {MIN_POINTS} needed. "
            "Lower `start_lr`, or raise `num_steps` so the sweep takes smaller strides."
        )
    lrs, raw = lrs[:stop], losses[:stop]
    head = max(MIN_POINTS, stop // 10)
    # The smoothing and the rules read the losses between the lowest and the clipping ceiling
    # (below), at most 3x the larger of the start and the lowest: when these are too large to
    # sum, every loss is divided by a power of two first. A blow-up alone, however large, is
    # clipped and needs no scaling, so the rest of the curve keeps its precision.
    lowest = float(raw.min())  # every loss here is finite
    if max(float(raw.max()), -lowest) <= SAFE_MAGNITUDE:  # the usual case: nothing to scale
        unit, start = 1.0, float(np.median(raw[:head]))
    else:
        pre = loss_scale(raw)  # only to find the start and the lowest without overflow
        level = max(abs(float(np.median(raw[:head] / pre))), abs(lowest / pre)) * pre
        unit = math.ldexp(1.0, math.frexp(level)[1] - 1) if level > SAFE_MAGNITUDE else 1.0
        raw = raw / unit
        start, lowest = float(np.median(raw[:head])), float(raw.min())
    ceiling = start + max(start - lowest, 0.0)
    span = smoothing_span(stop)
    smooth = ema(np.minimum(raw, ceiling), 1.0 - 2.0 / (span + 1.0), centred=True)
    argmin = int(np.argmin(smooth))
    scale = max(abs(float(smooth[0])), float(smooth.max()), -float(smooth.min()), 1e-12)
    drop = float(smooth[0] - smooth[argmin])
    # Clipped far above anything the smoothed curve holds, so no difference can overflow.
    residual = np.clip(raw[: argmin + 1], -(2.0**1020), 2.0**1020) - smooth[: argmin + 1]
    # The median absolute deviation, in place: `residual` is this function's own array.
    residual -= np.median(residual, overwrite_input=True)
    noise = 1.4826 * float(np.median(np.abs(residual, out=residual), overwrite_input=True))
    # A shallow fall still counts when it stands clear of the noise (a hard problem at the start
    # of training falls by a fraction of a percent); flat means small *and* lost in the noise.
    # A noise-free curve has noise 0; a fall within FLAT_RESOLUTION of the loss is still flat.
    if drop <= 0.01 * scale and drop <= FLAT_SNR * max(noise, FLAT_RESOLUTION * scale):
        if early is not None:
            raise NoSuggestionError(
                f"The loss had not fallen yet when {early[0]}: the sweep stopped before the "
                f"rates that train. To fix it, {early[1]}."
            )
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
    warnings: list[str] = dropped
    if result.stop_reason == "completed" and argmin >= stop - max(2, stop // 20):
        warnings.append(
            "The loss was still falling at `end_lr`; raise `end_lr` to see where it turns."
        )
    if early is not None and argmin >= stop - max(2, stop // 20):
        warnings.append(
            f"The loss was still falling when {early[0]}: the curve does not show where it "
            f"turns. To fix it, {early[1]}."
        )
    elif stop < FEW_POINTS and early is not None:
        warnings.append(
            f"Few points: {stop} finite losses (at least {FEW_POINTS} read reliably), as "
            f"{early[0]}. To fix it, {early[1]}."
        )
    if stop < FEW_POINTS and early is None:
        warnings.append(
            f"Few points: {stop} finite losses (at least {FEW_POINTS} read reliably); raise "
            "`num_steps` or lower `start_lr`."
        )
    if argmin < max(3, stop // 10):
        warnings.append(
            f"The loss diverged almost at once (lowest at step {argmin} of {stop}); lower "
            "`start_lr` by a few decades so the sweep starts where the loss is flat."
        )
    curve = _Curve(
        lrs=lrs,
        raw=_frozen(raw),
        smooth=_frozen(smooth),
        argmin=argmin,
        warnings=(),
        start=start,
        noise=noise,
        scale=unit,
    )
    if curve.too_noisy:
        warnings.append(
            f"Too noisy: the loss fell by {curve.drop * unit:.3g}, only "
            f"{curve.drop / noise:.1f} times its step-to-step noise; use larger batches, more "
            "`num_steps`, or `repeats`."
        )
    return replace(curve, warnings=tuple(warnings))


def _descent_range(curve: _Curve, lr: float) -> tuple[float, float]:
    """The rates where the loss falls at least half as fast as at its steepest, widened to
    include ``lr``."""
    slope = curve.falling_slope
    steepest = float(np.min(slope))
    if steepest >= 0:
        return lr, lr
    slow = ~(slope <= 0.5 * steepest)
    at = int(np.argmin(slope))
    # The run of fast points around the steepest one: from after the last slow point before it
    # to before the first slow point after it.
    before = np.flatnonzero(slow[:at])
    after = np.flatnonzero(slow[at + 1 :])
    lo = int(before[-1]) + 1 if before.size else 0
    hi = at + int(after[0]) if after.size else slope.size - 1
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
