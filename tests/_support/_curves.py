"""Synthetic range-test curves with a known answer."""

from __future__ import annotations

import numpy as np

from lrfinder import RangeTestResult


def sigmoid_curve(
    *, centre: float = -2.0, n: int = 100, blowup: float = 0.3, noise: float = 0.0, seed: int = 0
) -> RangeTestResult:
    """A loss that falls from 2 to 0 around 10**centre (steepest there) and blows up past
    ``blowup``; the lowest loss sits just before the blow-up."""
    lrs = np.logspace(-6, 1, n)
    x = np.log10(lrs)
    losses = 2.0 / (1.0 + np.exp(3.0 * (x - centre))) + np.where(
        lrs > blowup, (lrs / blowup) ** 2 - 1, 0
    )
    losses = losses + noise * np.random.default_rng(seed).standard_normal(n)
    return RangeTestResult(lrs=lrs, losses=losses)
