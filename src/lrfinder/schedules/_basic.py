"""Step-indexed learning-rate schedules: decays, cosine annealing, warm restarts, composition.

A schedule is a plain function of the optimizer step, ``Schedule = Callable[[int], float]``. Each
factory checks its arguments at once and returns a closure, so a bad argument fails where it is
written, not thousands of steps into training. The arithmetic follows PyTorch's
``torch.optim.lr_scheduler`` operation by operation, so the values agree with it to rounding.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from .._core._checks import check_count, is_real
from .._core._errors import LRFinderError

Schedule = Callable[[int], float]


# -- argument checks, shared by every factory -------------------------------------------------
def check_rate(name: str, value: float, *, positive: bool = False) -> float:
    """A finite, non-negative (or positive) rate, as a float."""
    ok = is_real(value) and math.isfinite(value) and value >= 0
    if not ok or (positive and value == 0):
        rule = "a finite number above 0" if positive else "a finite number, 0 or above"
        raise LRFinderError(f"`{name}` must be {rule}. Received: {name}={value!r}")
    return float(value)


def check_factor(name: str, value: float, *, high: float = 1.0, closed: bool = True) -> float:
    """A multiplier in (0, high] (or (0, high) when not ``closed``)."""
    ok = is_real(value) and 0 < value and (value <= high if closed else value < high)
    if not ok:
        bracket = "]" if closed else ")"
        raise LRFinderError(
            f"`{name}` must be in (0, {high:g}{bracket}. Received: {name}={value!r}"
        )
    return float(value)


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise LRFinderError(
            f"`{name}` must be one of {', '.join(map(repr, choices))}. Received: {name}={value!r}"
        )
    return value


def check_step(step: int) -> int:
    """The step a schedule is asked about: schedules start at step 0."""
    if step < 0:
        raise LRFinderError(f"A schedule starts at step 0. Received: step={step!r}")
    return step


def tabulate(schedule: Schedule, steps: int) -> np.ndarray:
    """The schedule's values at steps ``0 .. steps - 1``, as a float64 array.

    Frameworks that trace the step (Keras under ``jit``, optax) index this table instead of
    calling Python at every step.

    Examples:
        >>> tabulate(step_decay(0.1, step_size=2, gamma=0.5), 5).tolist()
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    check_count("steps", steps)
    return np.array([schedule(i) for i in range(steps)], dtype=np.float64)


# -- the schedules ----------------------------------------------------------------------------
def constant(lr: float) -> Schedule:
    """The same rate at every step.

    Examples:
        >>> constant(0.1)(1000)
        0.1
    """
    lr = check_rate("lr", lr)

    def schedule(step: int) -> float:
        check_step(step)
        return lr

    return schedule


def step_decay(lr: float, *, step_size: int, gamma: float = 0.1) -> Schedule:
    """Multiply the rate by ``gamma`` every ``step_size`` steps (PyTorch's ``StepLR``).

    Examples:
        >>> s = step_decay(0.1, step_size=30, gamma=0.1)
        >>> s(29), round(s(30), 12)
        (0.1, 0.01)
    """
    lr = check_rate("lr", lr)
    step_size = check_count("step_size", step_size)
    gamma = check_rate("gamma", gamma)

    def schedule(step: int) -> float:
        return lr * gamma ** (check_step(step) // step_size)

    return schedule


def multistep_decay(lr: float, *, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """Multiply the rate by ``gamma`` at each milestone step (PyTorch's ``MultiStepLR``).

    Examples:
        >>> s = multistep_decay(1.0, milestones=[10, 20], gamma=0.5)
        >>> s(9), s(10), s(25)
        (1.0, 0.5, 0.25)
    """
    lr = check_rate("lr", lr)
    gamma = check_rate("gamma", gamma)
    marks = sorted(check_count("milestones", m) for m in milestones)

    def schedule(step: int) -> float:
        return lr * gamma ** bisect.bisect_right(marks, check_step(step))

    return schedule


def exponential_decay(lr: float, *, gamma: float) -> Schedule:
    """Multiply the rate by ``gamma`` every step (PyTorch's ``ExponentialLR``).

    Examples:
        >>> exponential_decay(1.0, gamma=0.5)(3)
        0.125
    """
    lr = check_rate("lr", lr)
    gamma = check_rate("gamma", gamma)

    def schedule(step: int) -> float:
        return lr * gamma ** check_step(step)

    return schedule


def _cosine(lr: float, eta_min: float, t: float, period: float) -> float:
    # PyTorch's closed form, operation by operation.
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / period)) / 2


def cosine_annealing(lr: float, *, T_max: int, eta_min: float = 0.0) -> Schedule:
    """Cosine annealing from ``lr`` to ``eta_min`` over ``T_max`` steps (``CosineAnnealingLR``;
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017).

    Past ``T_max`` the rate climbs back along the cosine, as PyTorch's does.

    Examples:
        >>> s = cosine_annealing(0.1, T_max=100)
        >>> s(0), round(s(50), 12), s(100)
        (0.1, 0.05, 0.0)
    """
    lr = check_rate("lr", lr)
    T_max = check_count("T_max", T_max)
    eta_min = check_rate("eta_min", eta_min)

    def schedule(step: int) -> float:
        return _cosine(lr, eta_min, check_step(step), T_max)

    return schedule


def cosine_warm_restarts(
    lr: float,
    *,
    T_0: int,
    T_mult: int = 1,
    eta_min: float = 0.0,
) -> Schedule:
    """Cosine annealing restarted every ``T_0``, ``T_0 * T_mult``, ... steps
    (``CosineAnnealingWarmRestarts``; Loshchilov & Hutter, SGDR, 2017).

    Examples:
        >>> s = cosine_warm_restarts(0.1, T_0=10, T_mult=2)
        >>> s(0), s(10), s(30)
        (0.1, 0.1, 0.1)
    """
    lr = check_rate("lr", lr)
    T_0 = check_count("T_0", T_0)
    T_mult = check_count("T_mult", T_mult)
    eta_min = check_rate("eta_min", eta_min)

    def schedule(step: int) -> float:
        t, period = check_step(step), T_0
        if T_mult == 1:
            t %= period
        else:
            # Integer arithmetic, as PyTorch's step-by-step counter: the position in the cycle
            # is exact however long the run.
            while t >= period:
                t -= period
                period *= T_mult
        return _cosine(lr, eta_min, t, period)

    return schedule


# -- composition ------------------------------------------------------------------------------
def linear_warmup(schedule: Schedule, *, steps: int, start_lr: float = 0.0) -> Schedule:
    """Ramp linearly from ``start_lr`` to ``schedule(0)`` over ``steps`` steps, then follow
    ``schedule`` (shifted, so it starts where the warm-up ends).

    Examples:
        >>> s = linear_warmup(constant(0.1), steps=4)
        >>> [round(s(i), 3) for i in range(6)]
        [0.0, 0.025, 0.05, 0.075, 0.1, 0.1]
    """
    steps = check_count("steps", steps)
    start_lr = check_rate("start_lr", start_lr)
    target = schedule(0)

    def warmed(step: int) -> float:
        if check_step(step) < steps:
            return start_lr + (target - start_lr) * step / steps
        return schedule(step - steps)

    return warmed


def join(schedules: Sequence[Schedule], *, boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` counted from 0, and so on
    (optax's ``join_schedules``; PyTorch's ``SequentialLR``).

    Examples:
        >>> s = join([constant(0.1), exponential_decay(0.1, gamma=0.5)], boundaries=[3])
        >>> [s(i) for i in (2, 3, 4)]
        [0.1, 0.1, 0.05]
    """
    parts = list(schedules)
    marks = [check_count("boundaries", b) for b in boundaries]
    if len(marks) != len(parts) - 1 or not parts:
        raise LRFinderError(
            "`boundaries` must hold one step fewer than `schedules`. "
            f"Received: {len(parts)} schedules, boundaries={list(boundaries)!r}"
        )
    if any(b >= c for b, c in itertools.pairwise(marks)):
        raise LRFinderError(
            f"`boundaries` must increase strictly. Received: boundaries={list(boundaries)!r}"
        )

    def joined(step: int) -> float:
        i = bisect.bisect_right(marks, check_step(step))
        return parts[i](step - (marks[i - 1] if i else 0))

    return joined
