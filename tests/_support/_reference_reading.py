"""The curve reading as it was before it was vectorised: slow, plain loops, kept here (and only
here) as the reference the fast code must agree with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from lrfinder._core._smoothing import _check_beta
from lrfinder._reading import _classic, _curve


def loop_ema(values: np.ndarray, beta: float, *, centred: bool = False) -> np.ndarray:
    """The debiased EMA, one point at a time (lrfinder's implementation until it was
    vectorised)."""
    _check_beta(beta)
    arr = np.asarray(values, dtype=float)

    def causal(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        avg = 0.0
        for i, value in enumerate(a):
            avg = beta * avg + (1.0 - beta) * value
            out[i] = avg / (1.0 - beta ** (i + 1))
        return out

    if arr.size == 0:
        return arr.copy()
    forward = causal(arr)
    if not centred:
        return forward
    return 0.5 * (forward + causal(arr[::-1])[::-1])


def quadratic_lds(loss: np.ndarray) -> np.ndarray:
    """Longest strictly decreasing subsequence ending at each point, O(n^2), as fastai and
    lrfinder's first `valley` computed it."""
    n = loss.size
    lds = np.ones(n, dtype=int)
    for i in range(1, n):
        lower = loss[:i] > loss[i]
        if lower.any():
            lds[i] = int(lds[:i][lower].max()) + 1
    return lds


def quadratic_longest_fall(loss: np.ndarray) -> tuple[int, int]:
    lds = quadratic_lds(loss)
    end = int(np.argmax(lds))
    return end, int(lds[end])


def loop_descent_range(curve: _curve._Curve, lr: float) -> tuple[float, float]:
    """The range of a suggestion, walked point by point from the steepest one."""
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


def loop_slide_index(smooth: np.ndarray, gap: int, limit: float) -> int | None:
    """fastai's slide rule walked left from the end, point by point, on the causal average
    without its first tenth and its last 5 points: the index (into ``smooth``) it suggests,
    None when nothing settles."""
    grad = np.gradient(smooth)
    n = smooth.size
    right = n - 1
    while right - gap >= 0 and abs(grad[right] - grad[right - gap]) > limit:
        right -= 1
    return None if right - gap < 0 else min(right - gap + 1, n - 1 - gap)


@contextlib.contextmanager
def slow_reading() -> Iterator[None]:
    """Read curves the old way inside the block: the loop EMA, the quadratic valley, the range
    walked point by point. Results built inside have never been read, so nothing is cached."""
    from lrfinder._reading import _fall

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_curve, "ema", loop_ema)
        patch.setattr(_fall, "ema", loop_ema)
        patch.setattr(_classic, "_longest_fall", quadratic_longest_fall)
        patch.setattr(_curve, "_descent_range", loop_descent_range)
        yield


def random_curves(
    count: int, seed: int = 0, *, plateaus: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``count`` varied range-test curves ``(lrs, losses)``: falls with blow-ups, random walks,
    ties (integer losses), pure noise, noiseless plateaus (unless ``plateaus=False``); 6 to
    2000 points; some ending in NaN.

    On a noiseless plateau the smoothed loss is flat to its last bit, where the two EMAs round
    differently; `valley`, which counts strict falls, can then tell them apart."""
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.choice([6, 12, 30, 80, 200, 700, 2000]))
        lrs = np.logspace(-7, 1, n)
        x = np.log10(lrs)
        centre = rng.uniform(-5, -1)
        kind = t % 6
        if kind == 0:
            losses = 1 / (1 + np.exp(rng.uniform(1, 5) * (x - centre)))
            losses += np.where(x > centre + 1, (x - centre - 1) ** 2 * 3, 0)
        elif kind == 1:
            losses = np.cumsum(rng.normal(size=n))
        elif kind == 2:
            losses = rng.integers(0, 5, size=n).astype(float)
        elif kind == 3:
            losses = 2.3 - np.tanh(x - centre) + np.exp(np.clip(x - centre - 2, -50, 50))
        elif kind == 4:
            losses = rng.normal(size=n) + 3
        elif plateaus:
            losses = np.where(x < centre, 2.0, np.where(x < centre + 1.5, 1.0, 5.0))
        else:
            losses = 1.5 - np.tanh(x - centre) + 0.01 * rng.normal(size=n)
        losses = losses + rng.uniform(0, 0.2) * rng.normal(size=n) * (kind != 5)
        if t % 11 == 0:
            losses[int(rng.integers(n // 2, n)) :] = np.nan
        yield lrs, losses
