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
from .._core._suggestion import quiet_suggest

logger = logging.getLogger("lrfinder")

# Candidates stop at CAP_FACTOR x the rate at the lowest smoothed loss of the range test (0.3
# decades above it). Past the lowest point every step of the sweep made the loss worse, so a
# rate trained there for a whole run climbs out of the fall; the factor leaves room for what one
# sweep cannot see (each rate ran one step, and a one-cycle peak is held only briefly).
CAP_FACTOR = 2.0


def _reading(for_schedule: Any) -> str:
    """The suggestion's reading for a schedule: a one-cycle peak, else a constant rate."""
    if not isinstance(for_schedule, str) or not for_schedule:
        raise LRFinderError(
            "`for_schedule` must be a schedule's name ('constant', 'one_cycle', or your own). "
            f"Received: for_schedule={for_schedule!r}"
        )
    return "one_cycle" if canonical_schedule(for_schedule) == "one_cycle" else "constant"


def _place(result: RangeTestResult, use: str, stop: int) -> tuple[float, float, str | None]:
    """The centre of the candidates, their cap, and a warning when the curve had no suggestion."""
    try:
        s = quiet_suggest(result, for_schedule=use)
    except NoSuggestionError as exc:
        # A flat curve still bounds the race: centred a decade below its lowest loss (fastai's
        # `minimum`). A curve too short, or lowest at its start, has nothing to centre on.
        lowest = int(np.argmin(result.losses[:stop])) if stop else 0
        if stop < 5 or lowest < max(2, stop // 10):
            raise NoSuggestionError(
                f"The range test cannot place the race: {exc} Or pass `rates` yourself."
            ) from None
        lr_min = float(result.lrs[lowest])
        note = (
            f"The range test gave no suggestion ({exc}) The candidates are centred on a tenth of "
            f"the rate at the lowest loss ({lr_min:.3g}) instead; check the curve."
        )
        return lr_min / 10, lr_min * CAP_FACTOR, note
    return s.lr, s.high * CAP_FACTOR, None


def _candidates(
    result: RangeTestResult, for_schedule: str, num: int, span: float
) -> tuple[tuple[float, ...], list[str], bool]:
    """The candidates, notes on them, and whether the blow-up cut them short."""
    num = check_count("num", num, minimum=2)
    if not is_real(span) or not 0 < span < math.inf:
        raise LRFinderError(f"`span` must be a finite number above 0. Received: span={span!r}")
    result = as_result(result)
    finite = np.isfinite(result.losses)
    stop = result.losses.size if finite.all() else int(np.argmin(finite))
    centre, cap, note = _place(result, _reading(for_schedule), stop)
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
    notes = [] if note is None else [note]
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
    at every step of the sweep. A curve without a suggestion but with a fall (a flat
    one) centres them on a tenth of the rate at its lowest loss, with a logged warning.

    Args:
        result: a finished range test, or an ``(lrs, losses)`` pair.
        for_schedule: ``"one_cycle"`` (or the older ``"onecycle"``) centres on the one-cycle
            peak; any other name on the constant rate.
        num: how many rates (at least 2).
        span: decades each side of the suggestion.

    Raises:
        NoSuggestionError: the curve is too short, or lowest at its start: nothing to centre on.

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
