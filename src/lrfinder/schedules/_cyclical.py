"""Cyclical learning rates (Smith 2015/2017) and the one-cycle policy (Smith & Topin 2018).

The arithmetic follows PyTorch's ``CyclicLR`` and ``OneCycleLR`` operation by operation, so the
values agree with them to rounding; the vocabulary (``step_size``, ``max_lr``, ``pct_start``,
``div_factor``, ``final_div_factor``, ``three_phase``) is theirs too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from .._core._checks import check_count
from .._core._errors import LRFinderError
from ._basic import (
    Schedule,
    check_choice,
    check_factor,
    check_rate,
    check_step,
)

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
ANNEAL_STRATEGIES = ("cos", "linear")


def check_bounds(base_name: str, base: float, max_name: str, top: float) -> tuple[float, float]:
    base = check_rate(base_name, base)
    top = check_rate(max_name, top, positive=True)
    if not top > base:
        raise LRFinderError(
            f"`{max_name}` must be above `{base_name}`. "
            f"Received: {base_name}={base!r}, {max_name}={top!r}"
        )
    return base, top


def _cycle(
    step_size: int, step_size_down: int | None, mode: str, gamma: float
) -> Callable[[int], tuple[float, float]]:
    """Checks the cycle's arguments; returns, for a step, where it sits in its cycle (0 at the
    bottom, 1 at the top) and the mode's amplitude factor."""
    up = float(check_count("step_size", step_size))
    down = up if step_size_down is None else float(check_count("step_size_down", step_size_down))
    mode = check_choice("mode", mode, CYCLIC_MODES)
    gamma = check_factor("gamma", gamma)
    total = up + down
    ratio = up / total

    def height(step: int) -> tuple[float, float]:
        check_step(step)
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if mode == "triangular":
            return scale, 1.0
        if mode == "triangular2":
            return scale, 1 / (2.0 ** (cycle - 1))
        return scale, gamma**step

    return height


def cyclic(
    base_lr: float,
    max_lr: float,
    *,
    step_size: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """A cyclical rate between ``base_lr`` and ``max_lr`` (Smith, "Cyclical Learning Rates for
    Training Neural Networks", 2015/2017; PyTorch's ``CyclicLR``).

    Each cycle rises for ``step_size`` steps and falls for ``step_size_down`` (default: the same).
    ``mode`` scales the amplitude: ``triangular`` keeps it, ``triangular2`` halves it every
    cycle, ``exp_range`` multiplies it by ``gamma ** step``; ``base_lr`` stays fixed.

    Examples:
        >>> s = cyclic(0.001, 0.006, step_size=2000, mode="triangular2")
        >>> s(0), s(2000), round(s(6000), 12)
        (0.001, 0.006, 0.0035)
    """
    base_lr, max_lr = check_bounds("base_lr", base_lr, "max_lr", max_lr)
    height = _cycle(step_size, step_size_down, mode, gamma)

    def schedule(step: int) -> float:
        scale, amplitude = height(step)
        # Two statements, as PyTorch: a fused multiply would round differently.
        base_height = (max_lr - base_lr) * scale
        return base_lr + base_height * amplitude

    return schedule


def cyclic_momentum(
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
    *,
    step_size: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """The momentum that goes with :func:`cyclic` (PyTorch's ``CyclicLR(cycle_momentum=True)``):
    it falls from ``max_momentum`` toward ``base_momentum`` while the rate climbs.

    Examples:
        >>> m = cyclic_momentum(0.8, 0.9, step_size=10)
        >>> m(0), m(10), m(20)
        (0.9, 0.8, 0.9)
    """
    base_momentum, max_momentum = check_bounds(
        "base_momentum", base_momentum, "max_momentum", max_momentum
    )
    height = _cycle(step_size, step_size_down, mode, gamma)

    def schedule(step: int) -> float:
        scale, amplitude = height(step)
        base_height = (max_momentum - base_momentum) * scale
        return max_momentum - base_height * amplitude

    return schedule


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list[tuple[float, int]]:
    """The last step of each phase, and which of the cycle's three points it ends on."""
    # Points: 0 = the start (low), 1 = the peak, 2 = the end (lowest).
    if three_phase:
        return [
            (float(pct_start * total_steps) - 1, 1),
            (float(2 * pct_start * total_steps) - 2, 0),
            (total_steps - 1, 2),
        ]
    return [(float(pct_start * total_steps) - 1, 1), (total_steps - 1, 2)]


def _one_cycle(
    points: tuple[float, float, float],
    total_steps: int,
    pct_start: float,
    anneal_strategy: str,
    three_phase: bool,
) -> Schedule:
    anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
    phases = _phases(total_steps, pct_start, three_phase)
    ends = [0.0] + [end for end, _ in phases]
    if any(b <= a for a, b in itertools.pairwise(ends)):
        raise LRFinderError(
            "`total_steps` is too small for `pct_start`: every phase needs at least one step. "
            f"Received: total_steps={total_steps!r}, pct_start={pct_start!r}"
        )

    def schedule(step: int) -> float:
        # Past the end the rate stays at its final value (PyTorch raises instead).
        step_num = min(check_step(step), total_steps - 1)
        start_step, start_point = 0.0, 0
        for i, (end_step, end_point) in enumerate(phases):
            if step_num <= end_step or i == len(phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                return anneal(points[start_point], points[end_point], pct)
            start_step, start_point = end_step, end_point
        raise AssertionError("unreachable")  # pragma: no cover

    return schedule


def _check_one_cycle(
    total_steps: int, pct_start: float, anneal_strategy: str
) -> tuple[int, float, str]:
    total_steps = check_count("total_steps", total_steps, minimum=2)
    pct_start = check_factor("pct_start", pct_start, closed=False)
    anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    return total_steps, pct_start, anneal_strategy


def one_cycle(
    max_lr: float,
    *,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """The one-cycle policy (Smith & Topin, "Super-Convergence", 2018; PyTorch's ``OneCycleLR``).

    The rate climbs from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then anneals to ``max_lr / div_factor / final_div_factor``. With
    ``three_phase`` it first comes back down to the start and only then anneals to the end.
    Pair it with :func:`one_cycle_momentum` for the momentum (or Adam's beta1).

    Examples:
        >>> s = one_cycle(0.1, total_steps=1000)
        >>> round(s(0), 12), s(299), s(999)
        (0.004, 0.1, 4e-07)
    """
    max_lr = check_rate("max_lr", max_lr, positive=True)
    total_steps, pct_start, anneal_strategy = _check_one_cycle(
        total_steps, pct_start, anneal_strategy
    )
    div_factor = check_rate("div_factor", div_factor, positive=True)
    final_div_factor = check_rate("final_div_factor", final_div_factor, positive=True)
    initial_lr = max_lr / div_factor
    points = (initial_lr, max_lr, initial_lr / final_div_factor)
    return _one_cycle(points, total_steps, pct_start, anneal_strategy, three_phase)


def one_cycle_momentum(
    *,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    three_phase: bool = False,
) -> Schedule:
    """The momentum (or Adam's beta1) that goes with :func:`one_cycle`: it falls from
    ``max_momentum`` to ``base_momentum`` while the rate climbs, and climbs back while it falls.

    Examples:
        >>> m = one_cycle_momentum(total_steps=1000)
        >>> m(0), m(299), m(999)
        (0.95, 0.85, 0.95)
    """
    total_steps, pct_start, anneal_strategy = _check_one_cycle(
        total_steps, pct_start, anneal_strategy
    )
    base_momentum, max_momentum = check_bounds(
        "base_momentum", base_momentum, "max_momentum", max_momentum
    )
    check_factor("max_momentum", max_momentum)
    # The momentum cycle is the rate's upside down: start high, dip at the peak, end high.
    points = (max_momentum, base_momentum, max_momentum)
    return _one_cycle(points, total_steps, pct_start, anneal_strategy, three_phase)
