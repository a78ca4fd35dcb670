"""Smoothing of a loss curve: exponential and simple moving averages, causal or centred.

Causal smoothing (each point sees only the past) drives the stopping rule while the test runs;
centred smoothing (each point sees both sides) reads the finished curve without shifting its
features to higher rates, which is how a causal average makes suggestions lag.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

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


# The weights beta**-m of one block stay below this, and losses above it take the loop: a
# product of the two then stays far from overflow in a cumulative sum.
_BLOCK_RANGE = 1e100
_MAX_BLOCK = 1 << 16


def _causal_ema_loop(arr: np.ndarray, beta: float) -> np.ndarray:
    out = np.empty_like(arr)
    avg = 0.0
    for i, value in enumerate(arr.tolist()):
        avg = beta * avg + (1.0 - beta) * value
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


@lru_cache(maxsize=8)
def _block_weights(beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The weights ``beta**-m`` of one block, their running sum, and that sum plus the
    denominator every later block carries, for one ``beta``: the smoothing of every result
    shares a few betas, so they are computed once.

    After a whole block the carried denominator is ``beta * (1 - beta**a) / (1 - beta)``
    (``a``, the steps so far), a constant once ``beta**a`` is below float resolution; for
    ``beta`` so near 1 that it is not, the third item is None and each block adds its own."""
    length = int(min(_MAX_BLOCK, max(1, np.log(_BLOCK_RANGE) // -np.log(beta))))
    weights = np.power(beta, -np.arange(length, dtype=float))
    total = np.cumsum(weights)
    carried = None
    if beta**length < 1e-17:
        carried = total + beta * float(total[-1]) * beta ** (length - 1)
        carried.flags.writeable = False
    weights.flags.writeable = total.flags.writeable = False
    return weights, total, carried


def _causal_ema(arr: np.ndarray, beta: float) -> np.ndarray:
    """The debiased EMA as a weighted mean, ``sum beta**(i-k) x_k / sum beta**(i-k)``, in
    vectorised blocks: within a block the weights are ``beta**-m`` (bounded by
    ``_BLOCK_RANGE``), and each block carries the previous one's numerator and denominator."""
    if beta == 0.0:
        return arr.copy()
    # Two reductions, no temporary: NaN fails both comparisons, inf the second.
    if not (arr.size and -_BLOCK_RANGE <= arr.min() and arr.max() <= _BLOCK_RANGE):
        return _causal_ema_loop(arr, beta)  # NaN/inf propagate exactly as the recurrence does
    weights, total, carried = _block_weights(beta)
    length = weights.size
    out = np.empty_like(arr)
    num = den = 0.0
    for start in range(0, arr.size, length):
        block = arr[start : start + length]
        size = block.size
        top = np.multiply(weights[:size], block)
        top[0] += beta * num  # carried into every step of the block by the running sum
        np.cumsum(top, out=top)
        if not start:
            bottom = total[:size]
        elif carried is not None:
            bottom = carried[:size]
        else:
            bottom = total[:size] + beta * den
        np.divide(top, bottom, out=out[start : start + size])
        tail = beta ** (size - 1)
        num, den = float(top[-1]) * tail, float(bottom[-1]) * tail
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
    csum = np.concatenate(([0.0], np.cumsum(arr)))
    idx = np.arange(n)
    if centred:
        lo = np.maximum(idx - window // 2, 0)
        hi = np.minimum(idx + (window - 1) // 2 + 1, n)
    else:
        lo = np.maximum(idx - window + 1, 0)
        hi = idx + 1
    return (csum[hi] - csum[lo]) / (hi - lo)
