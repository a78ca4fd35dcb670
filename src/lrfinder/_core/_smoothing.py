"""Smoothing of a loss curve: exponential and simple moving averages, causal or centred.

Causal smoothing (each point sees only the past) drives the stopping rule while the test runs;
centred smoothing (each point sees both sides) reads the finished curve without shifting its
features to higher rates, which is how a causal average makes suggestions lag.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._checks import check_count
from ._errors import LRFinderError


def _as_curve(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise LRFinderError(f"A loss curve must be one-dimensional. Received shape {arr.shape}")
    return arr


def _check_beta(beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise LRFinderError(f"`beta` must be in [0, 1). Received: beta={beta!r}")


# The recurrence is solved in blocks, all at once in numpy, and the blocks' ends carry over by
# the same method on a curve as many times shorter. Within a block of `size` points the sum
# sum_j a**(k - j) b_j is a**k * cumsum(a**-j b_j); a**-j grows, so the block is only as long as
# keeps it under 2**8 (8 of the 52 bits of rounding at most). Where that leaves blocks under
# _BLOCK points (fast decays, a < 0.8), each block is a product with the matrix of a**(k - j).
_BLOCK = 16
_LONGEST = 256
_GROWTH = 2.0**8
# Above this, a block's a**-j (up to _GROWTH) times its sum (up to _LONGEST terms) could overflow.
_HUGE = 2.0**1000


def _block_size(a: float) -> int:
    """The longest block (a power of two, at most _LONGEST) over which a**-(size - 1) stays
    under _GROWTH; 0 when that is shorter than _BLOCK."""
    if a <= 0.0:
        return 0
    size = _LONGEST
    while size >= _BLOCK and -(size - 1.0) * math.log(a) > math.log(_GROWTH):
        size //= 2
    return size if size >= _BLOCK else 0


def _recurrence(b: np.ndarray, a: float, factor: float = 1.0, *, huge: bool = False) -> np.ndarray:
    """``y[i] = a * y[i - 1] + factor * b[i]`` with ``y[-1] = 0``, for every ``i`` at once.

    ``huge``: some ``|b|`` is within 2**24 of the float maximum, where a**-j would overflow, so
    every block is a matrix product (its weights at most 1, its sums no larger than the data).
    """
    n = b.size
    scaled = 0 if huge else _block_size(a)
    size = scaled or _BLOCK
    k = np.arange(size, dtype=float)
    powers = a**k
    blocks = -(-n // size)
    padded = np.zeros(blocks * size)
    padded[:n] = b
    partial = padded.reshape(blocks, size)
    if scaled:
        partial *= a**-k
        np.cumsum(partial, axis=1, out=partial)
        partial *= factor * powers
    else:
        lag = k[None, :] - k[:, None]
        # [j, k]: a**(k - j) for k >= j, so row-vector products sum each block's past terms.
        weights = np.where(lag >= 0, factor * a ** np.maximum(lag, 0.0), 0.0)
        partial = partial @ weights
    if blocks > 1:
        ends = _recurrence(partial[:, -1].copy(), a**size, huge=huge)
        partial[1:] += ends[:-1, None] * (a * powers)[None, :]
    return partial.reshape(-1)[:n]


def finite_prefix(values: np.ndarray) -> int:
    """How many of ``values`` come before the first NaN or inf (all of them if none)."""
    finite = np.isfinite(values)
    return values.size if finite.all() else int(np.argmin(finite))


def _causal_ema(arr: np.ndarray, beta: float) -> np.ndarray:
    """The debiased average ``avg_i = beta * avg_(i-1) + (1 - beta) * x_i`` over
    ``1 - beta**(i+1)``, vectorised; equal to that loop to rounding (tests/core/test_smoothing.py
    holds the loop)."""
    n, stop = arr.size, finite_prefix(arr)
    if beta == 0.0:
        out = arr.copy()
    else:
        out = np.empty_like(arr)
        head = arr[:stop]
        huge = stop > 0 and max(float(head.max()), -float(head.min())) > _HUGE
        # The average of the changes from the first value, plus that value: the same average
        # (its weights sum to 1), exact where the curve is flat, so a flat curve stays flat.
        first = 0.0 if huge or stop == 0 else float(head[0])
        avg = _recurrence(head - first if first else head, beta, 1.0 - beta, huge=huge)
        # 1 - beta**(i + 1) rounds to exactly 1 once beta**(i + 1) is below 2**-60: only the
        # first `debiased` points are divided, so the powers cost nothing on a long curve.
        debiased = min(stop, math.ceil(-60.0 * math.log(2.0) / math.log(beta)) + 1)
        with np.errstate(over="ignore"):  # at the float maximum, inf, as the loop gave
            avg[:debiased] /= 1.0 - beta ** np.arange(1.0, debiased + 1.0)
        if first:
            avg += first
        if stop == n:
            return avg
        out[:stop] = avg
    if stop < n:
        out[stop:] = _after_nonfinite(arr[stop:], beta)
    return out


def _after_nonfinite(tail: np.ndarray, beta: float) -> np.ndarray:
    """What the loop gives from the first NaN or inf on: NaN once a NaN (or both infinities)
    came in, else the infinity seen; with ``beta = 0``, ``0 * inf`` makes every later one NaN."""
    nan = np.logical_or.accumulate(np.isnan(tail))
    pos = np.logical_or.accumulate(tail == np.inf)
    neg = np.logical_or.accumulate(tail == -np.inf)
    out = np.where(nan | (pos & neg), np.nan, np.where(pos, np.inf, -np.inf))
    if beta == 0.0:
        out[1:] = np.nan
    return out


def ema(
    values: Sequence[float] | np.ndarray, beta: float = 0.98, *, centred: bool = False
) -> np.ndarray:
    """Debiased exponential moving average.

    The running average starts at zero and is divided by ``1 - beta**(i + 1)``, so the first
    smoothed value equals the first loss instead of a fraction of it (the curve does not "rise"
    at the start). ``centred=True`` averages a forward and a backward pass, so a feature of the
    curve stays where it is.

    >>> ema([2.0, 2.0, 2.0], beta=0.9).tolist()
    [2.0, 2.0, 2.0]
    """
    _check_beta(beta)
    arr = _as_curve(values)
    if arr.size == 0:
        return arr.copy()
    forward = _causal_ema(arr, beta)
    if not centred:
        return forward
    backward = _causal_ema(arr[::-1], beta)[::-1]
    return 0.5 * (forward + backward)


def sma(values: Sequence[float] | np.ndarray, window: int, *, centred: bool = False) -> np.ndarray:
    """Simple moving average over ``window`` points, shrinking the window at the edges.

    Causal: the mean of the last ``window`` points up to and including ``i``. Centred: the mean of
    the ``window`` points around ``i``. Near the edges fewer points are averaged rather than
    padding with zeros, so the smoothed curve never starts at zero.

    >>> sma([1.0, 2.0, 3.0, 4.0], 2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    >>> sma([1.0, 2.0, 3.0, 4.0], 3, centred=True).tolist()
    [1.5, 2.0, 3.0, 3.5]
    """
    window = check_count("window", window)
    arr = _as_curve(values)
    n = arr.size
    # Point i averages [i - before, i + after], cut to the curve: sums from one cumulative sum
    # by slices (no index arrays), and counts short by how far each edge reaches past the curve.
    before, after = (window // 2, (window - 1) // 2) if centred else (window - 1, 0)
    csum = np.empty(n + 1)
    csum[0] = 0.0
    np.cumsum(arr, out=csum[1:])
    inside = max(n - after, 0)  # points whose window ends inside the curve
    cut = min(before, n)  # points whose window starts before it
    total = np.empty(n)
    total[:inside] = csum[after + 1 :]
    total[inside:] = csum[n]
    total[cut:] -= csum[: n - cut]
    count = np.full(n, float(window))
    count[:cut] -= np.arange(before, before - cut, -1)
    count[inside:] -= np.arange(inside + after + 1 - n, after + 1)
    return total / count
