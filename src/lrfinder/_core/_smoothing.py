"""Smoothing of a loss curve: exponential and simple moving averages, causal or centred.

Causal smoothing (each point sees only the past) drives the stopping rule while the test runs;
centred smoothing (each point sees both sides) reads the finished curve without shifting its
features to higher rates, which is how a causal average makes suggestions lag.
"""

from __future__ import annotations

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


def _causal_ema(arr: np.ndarray, beta: float) -> np.ndarray:
    out = np.empty_like(arr)
    avg = 0.0
    for i, value in enumerate(arr):
        avg = beta * avg + (1.0 - beta) * value
        out[i] = avg / (1.0 - beta ** (i + 1))
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
