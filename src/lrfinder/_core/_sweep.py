"""The learning-rate sweep of the range test: the rate used at each step."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._checks import check_count, check_rate
from ._errors import LRFinderError

SweepMode = Literal["exp", "linear"]
SWEEP_MODES: tuple[str, ...] = ("exp", "linear")


def check_sweep(start_lr: float, end_lr: float, num_steps: int, mode: str) -> None:
    """Raise :class:`LRFinderError` if the sweep's settings cannot describe a range test."""
    check_rate("start_lr", start_lr)
    check_rate("end_lr", end_lr)
    if start_lr >= end_lr:
        raise LRFinderError(
            f"`start_lr` must be below `end_lr`. Received: start_lr={start_lr!r}, end_lr={end_lr!r}"
        )
    check_count("num_steps", num_steps, minimum=2)
    if not isinstance(mode, str) or mode not in SWEEP_MODES:
        raise LRFinderError(
            f"`mode` must be one of {', '.join(SWEEP_MODES)}. Received: mode={mode!r}"
        )


def sweep_lr(
    step: int, *, start_lr: float, end_lr: float, num_steps: int, mode: str = "exp"
) -> float:
    """The rate of step ``step`` (0-based) of a sweep from ``start_lr`` to ``end_lr``.

    The exponential sweep multiplies the rate by the same factor after every step (Smith 2015/2017,
    section 3.3); the linear one adds the same amount. Step 0 is exactly ``start_lr`` and step
    ``num_steps - 1`` exactly ``end_lr``.

    >>> sweep_lr(0, start_lr=1e-7, end_lr=10, num_steps=100)
    1e-07
    >>> sweep_lr(99, start_lr=1e-7, end_lr=10, num_steps=100)
    10.0
    """
    check_sweep(start_lr, end_lr, num_steps, mode)
    check_count("step", step, minimum=0)
    return rate_at(step, float(start_lr), float(end_lr), num_steps, mode)


def rate_at(step: int, start_lr: float, end_lr: float, num_steps: int, mode: str) -> float:
    """:func:`sweep_lr` on settings already checked: the range test asks once a step."""
    if step <= 0:
        return start_lr
    if step >= num_steps - 1:
        return end_lr
    frac = step / (num_steps - 1)
    if mode == "exp":
        return float(start_lr * (end_lr / start_lr) ** frac)
    return float(start_lr + (end_lr - start_lr) * frac)


def sweep(*, start_lr: float, end_lr: float, num_steps: int, mode: str = "exp") -> np.ndarray:
    """Every rate of the sweep, as an array of ``num_steps`` values.

    >>> sweep(start_lr=1e-3, end_lr=1e-1, num_steps=3).tolist()
    [0.001, 0.01, 0.1]
    """
    check_sweep(start_lr, end_lr, num_steps, mode)
    return np.array(
        [
            sweep_lr(i, start_lr=start_lr, end_lr=end_lr, num_steps=num_steps, mode=mode)
            for i in range(num_steps)
        ]
    )
