"""The schedule a trial of the race trains with: the user's, compressed into the trial's steps."""

from __future__ import annotations

from collections.abc import Callable

from .._core._errors import LRFinderError
from ..schedules._basic import Schedule, constant, cosine_annealing
from ..schedules._cyclical import one_cycle

# A schedule the race cannot name: (peak rate, steps) -> the schedule over those steps.
ScheduleShape = Callable[[float, int], Schedule]
TRIAL_SCHEDULES = ("constant", "onecycle", "cosine")


def trial_schedule(for_schedule: str | ScheduleShape, lr: float, steps: int) -> Schedule:
    """The schedule one trial trains ``steps`` steps with, at (peak) rate ``lr``.

    ``"constant"`` holds ``lr``; ``"onecycle"`` is a one-cycle with peak ``lr`` and ``"cosine"`` a
    cosine annealing from ``lr``, both compressed into ``steps``, so a short trial still warms
    up, peaks and anneals as the full training would (a one-cycle truncated to its first quarter
    would stop inside its warm-up, never reaching the rate being raced). A callable
    ``shape(lr, steps)`` builds any other schedule.

    Example:
        >>> s = trial_schedule("onecycle", 0.1, 100)
        >>> round(max(s(i) for i in range(100)), 6), s(0) < 0.01
        (0.1, True)
    """
    if callable(for_schedule):
        return for_schedule(lr, steps)
    if for_schedule == "constant":
        return constant(lr)
    if for_schedule == "onecycle":
        return one_cycle(lr, total_steps=max(steps, 4))  # the fewest steps its phases fit
    if for_schedule == "cosine":
        return cosine_annealing(lr, T_max=steps)
    raise LRFinderError(
        f"`for_schedule` must be one of {', '.join(TRIAL_SCHEDULES)}, or a callable "
        f"shape(lr, steps) -> schedule. Received: for_schedule={for_schedule!r}"
    )
