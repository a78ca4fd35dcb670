"""Argument checks shared by every module: one rule, one message."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._errors import LRFinderError


def is_real(value: Any) -> bool:
    """True for a real number of any type (int, float, numpy scalars, Fraction...), not a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (numbers.Real, np.floating, np.integer))


def check_count(name: str, value: Any, *, minimum: int = 1) -> int:
    """An integer count (steps, batches, a window), at least ``minimum``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        raise LRFinderError(
            f"`{name}` must be an integer of at least {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def check_real(
    name: str,
    value: Any,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
) -> float:
    """A finite real number (any numeric type but bool) within the given bounds, as a float."""
    bounds = [
        f"above {above:g}" if above is not None else "",
        f"at least {at_least:g}" if at_least is not None else "",
        f"below {below:g}" if below is not None else "",
        f"at most {at_most:g}" if at_most is not None else "",
    ]
    rule = " and ".join(b for b in bounds if b)
    try:
        number = float(value) if is_real(value) else math.nan
    except OverflowError:  # an int too large for a float
        number = math.nan
    if (
        not math.isfinite(number)
        or (above is not None and not number > above)
        or (at_least is not None and not number >= at_least)
        or (below is not None and not number < below)
        or (at_most is not None and not number <= at_most)
    ):
        raise LRFinderError(
            f"`{name}` must be a finite number{' ' + rule if rule else ''}. "
            f"Received: {name}={value!r}"
        )
    return number


def check_rate(name: str, value: Any) -> float:
    """A learning rate: a finite real number above 0, as a float."""
    return check_real(name, value, above=0.0)
