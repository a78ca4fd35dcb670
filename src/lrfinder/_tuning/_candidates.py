"""The candidates of a race: log-spaced rates around the range test's suggestion, capped below
its blow-up and never below its first rate."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from .._core._checks import check_count, is_real
from .._core._errors import LRFinderError, NoSuggestionError
from .._core._names import canonical_schedule
from .._core._result import RangeTestResult, as_result
from .._core._smoothing import finite_prefix
from .._core._suggestion import quiet_suggest
from .._reading._curve import EARLY_STOPS, MIN_POINTS, NOISY_SNR, read_curve

logger = logging.getLogger("lrfinder")

# Candidates stop at CAP_FACTOR x the rate at the lowest smoothed loss of the range test (0.3
# decades above it). Past the lowest point every step of the sweep made the loss worse, so a
# rate trained there for a whole run climbs out of the fall; the factor leaves room for what one
# sweep cannot see (each rate ran one step, and a one-cycle peak is held only briefly).
CAP_FACTOR = 2.0
# A curve whose suggestion is noise (a fall under NOISY_SNR times the noise, or no suggestion)
# places the race by where its sweep stopped instead: the candidates run from WIDE_BELOW to
# WIDE_ABOVE decades under the last finite rate, as closely spaced as around a suggestion.
# Chosen on the development split, where the grid's good rates lay 0.6 to 3.3 decades under it.
WIDE_BELOW, WIDE_ABOVE = 3.5, 0.5


def _reading(for_schedule: Any) -> str:
    """The suggestion's reading for a schedule: a one-cycle peak, else a constant rate."""
    if not isinstance(for_schedule, str) or not for_schedule:
        raise LRFinderError(
            "`for_schedule` must be a schedule's name ('constant', 'one_cycle', or your own). "
            f"Received: for_schedule={for_schedule!r}"
        )
    return "one_cycle" if canonical_schedule(for_schedule) == "one_cycle" else "constant"


def _untrusted(result: RangeTestResult, stop: int) -> str | None:
    """Why the curve's suggestion cannot place the race (it is noise, or there is none), else
    None. A curve without a suggestion that still tells something (it rose from the start, or
    the test stopped early) raises instead."""
    try:
        curve = read_curve(result)
    except NoSuggestionError as exc:
        if stop < MIN_POINTS or result.stop_reason in EARLY_STOPS:
            refuse = True
        else:  # the middle of the sweep stands clear above its start
            raw, h = result.losses[:stop], max(2, stop // 10)
            step = np.diff(raw)
            noise = 1.4826 * float(np.median(np.abs(step - np.median(step)))) / math.sqrt(2)
            middle = float(np.median(raw[stop // 2 - h // 2 : stop // 2 + h // 2 + 1]))
            refuse = middle > float(np.median(raw[:h])) + NOISY_SNR * noise
        if refuse:
            raise NoSuggestionError(
                f"The range test cannot place the race: {exc} Or pass `rates` yourself."
            ) from None
        return f"The range test gave no suggestion ({exc})"
    if curve.too_noisy:
        return (
            f"The range test's fall ({curve.drop * curve.scale:.3g}) is only "
            f"{curve.drop / curve.noise:.1f} times its step-to-step noise, so its suggestion "
            "is noise."
        )
    return None


def _wide(
    result: RangeTestResult, stop: int, num: int, span: float, why: str
) -> tuple[tuple[float, ...], list[str], bool]:
    """Candidates from WIDE_BELOW to WIDE_ABOVE decades under the sweep's last finite rate,
    as far apart as ``num`` candidates over ``span`` decades either side of a suggestion, and at
    most ``2 * num - 1``: where a curve that tells nothing still bounds the good rates."""
    first, last = math.log10(float(result.lrs[0])), math.log10(float(result.lrs[stop - 1]))
    lo, hi = max(last - WIDE_BELOW, first), max(last - WIDE_ABOVE, first)
    n = min(max(2, round((hi - lo) * (num - 1) / (2 * span)) + 1), 2 * num - 1)
    rates = tuple(sorted({float(r) for r in np.logspace(lo, hi, n)}))
    if len(rates) < 2:
        raise NoSuggestionError(
            f"{why} The sweep is too short to race below it: it ran from {10**first:.3g} to "
            f"{10**last:.3g}. Lower `start_lr` by a few decades, or pass `rates` yourself."
        )
    ended = result.stop_reason == "completed" and stop == result.losses.size
    where = "ended" if ended else "diverged"
    extra = len(rates) - num
    cost = f", {extra} more than `num`, so the race costs more" if extra > 0 else ""
    note = (
        f"{why} The {len(rates)} candidates span {rates[0]:.3g}..{rates[-1]:.3g} instead, "
        f"{WIDE_BELOW:g} to {WIDE_ABOVE:g} decades below where the sweep {where} "
        f"({10**last:.3g}){cost}; check the curve."
    )
    return rates, [note], True


def highest_swept(result: RangeTestResult) -> float:
    """The highest rate the sweep trained at before its loss turned NaN or inf (its first rate
    where the first loss already did): no race goes past it."""
    return float(result.lrs[max(finite_prefix(result.losses) - 1, 0)])


def _candidates(
    result: RangeTestResult, for_schedule: str, num: int, span: float
) -> tuple[tuple[float, ...], list[str], bool]:
    """The candidates, notes on them, and whether the blow-up cut them short."""
    num = check_count("num", num, minimum=2)
    if not is_real(span) or not 0 < span < math.inf:
        raise LRFinderError(f"`span` must be a finite number above 0. Received: span={span!r}")
    use = _reading(for_schedule)
    result = as_result(result)
    stop = finite_prefix(result.losses)
    why = _untrusted(result, stop)
    if why is not None:
        return _wide(result, stop, num, span, why)
    s = quiet_suggest(result, for_schedule=use)
    centre, cap = s.lr, s.high * CAP_FACTOR
    first, last = float(result.lrs[0]), min(cap, float(result.lrs[stop - 1]))
    centre = min(max(centre, first), last)
    floor, top, c = math.log10(first), math.log10(last), math.log10(centre)
    lo, hi = max(c - span, floor), min(c + span, top)
    # The suggestion itself races; the others are evenly spaced on each side of it, each side
    # given its share of the intervals (at least one where it has any width).
    width = hi - lo
    below = round((num - 1) * (c - lo) / width) if width > 0 else 0
    below = min(max(below, int(c > lo)), num - 1 - int(hi > c))
    logs = [*np.linspace(lo, c, below + 1)[:-1], *np.linspace(c, hi, num - below)[1:]]
    grid = np.clip(np.power(10.0, logs), first, last)
    rates = tuple(sorted({float(r) for r in grid} | {centre}))
    if len(rates) < 2:
        raise NoSuggestionError(
            f"The range test leaves no room for a race: its swept start {10**floor:.3g} and its "
            f"cap {10**top:.3g} coincide. Lower `start_lr`, or pass `rates` yourself."
        )
    notes = []
    if c - span < floor - 1e-9:  # the cap cuts the top by design; a cut bottom is the sweep's
        notes.append(
            f"The sweep starts only {c - floor:.2f} decades below the suggestion {centre:.3g}, "
            f"so the candidates stop there ({first:.3g}), not {span:g} decades below it. Lower "
            "`start_lr` to race lower rates."
        )
    return rates, notes, c + span > top


def candidates(
    result: RangeTestResult | tuple[Any, Any],
    *,
    for_schedule: str = "constant",
    num: int = 5,
    span: float = 1.0,
) -> tuple[float, ...]:
    """Log-spaced candidate rates for a race, centred on the range test's default suggestion.

    The ``num`` rates spread over ``span`` decades either side of ``lrfinder.suggest(result,
    for_schedule=...)`` (which is one of them), never below the sweep's first rate, never
    above the last rate with a finite loss, and never above twice the top of the suggestion's
    range: for the default rule the rate at the lowest smoothed loss, past which the loss rose
    at every step of the sweep.

    A curve whose suggestion is noise (its fall is under twice its step-to-step noise) or that
    has none (it is flat) places them by where the sweep stopped instead: from 3.5 to 0.5
    decades below its last finite rate, as closely spaced as around a suggestion (7 rates for
    the defaults, at most ``2 * num - 1``), with a logged warning.

    Args:
        result: a finished range test, or an ``(lrs, losses)`` pair.
        for_schedule: ``"one_cycle"`` (or the older ``"onecycle"``) centres on the one-cycle
            peak; any other name on the constant rate.
        num: how many rates (at least 2); more for a curve whose fall is noise (see above).
        span: decades each side of the suggestion.

    Raises:
        NoSuggestionError: the curve has too few points, rose from its start (the sweep began
            too high), or has no suggestion and stopped early: nothing to place them by.

    Examples:
        >>> import numpy as np, lrfinder
        >>> lrs = np.logspace(-6, 1, 100)
        >>> losses = 2 / (1 + np.exp(3 * (np.log10(lrs) + 2))) + np.where(lrs > 0.3, lrs, 0)
        >>> rates = candidates((lrs, losses))
        >>> len(rates), rates[0] < lrfinder.suggest((lrs, losses)).lr < rates[-1] < 0.6
        (5, True)
    """
    rates, notes, _ = _candidates(as_result(result), for_schedule, num, span)
    for note in notes:
        logger.warning(note)
    return rates
