"""Build the schedule that follows a range test, with its bounds read off the curve.

Smith ("Cyclical Learning Rates for Training Neural Networks", 2015/2017, section 3.3): run the
range test, take ``base_lr`` where the loss starts to fall and ``max_lr`` where it stops falling,
or, by the rule of thumb, ``base_lr = max_lr / 4``. Smith & Topin ("Super-Convergence", 2018)
take the one-cycle peak from the same test. Every bound records the rule that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .._core._checks import check_count
from .._core._display import html, present
from .._core._errors import LRFinderError
from .._core._names import schedule_name
from .._core._registry import _SCHEDULE_AWARE, DEFAULT_METHOD
from .._core._result import RangeTestResult, as_result
from .._core._suggestion import quiet_suggest
from .._reading._curve import read_curve
from ._basic import Schedule, constant, cosine_annealing
from ._cyclical import CYCLIC_MODES, cyclic, one_cycle, one_cycle_momentum

POLICIES = ("one_cycle", *CYCLIC_MODES, "cosine_annealing", "constant")
# The loss "starts falling" once it has covered this share of its total fall; a smaller share
# would let the noise of the flat start decide.
START_FRACTION = 0.1
# The arguments of `one_cycle` that shape the momentum cycle too.
_SHARED_ONE_CYCLE = ("pct_start", "anneal_strategy", "three_phase")


@dataclass(frozen=True)
class ScheduleChoice:
    """A schedule built from a range test, with its bounds and the rule behind each.

    Call it like the schedule it holds: ``choice(step)``.

    Attributes:
        policy: one of ``one_cycle``, ``triangular``, ``triangular2``, ``exp_range``,
            ``cosine_annealing``, ``constant``.
        schedule: the learning rate at each step.
        bounds: the rates read off the curve, by name (``max_lr``, ``base_lr`` or ``lr``).
        rules: for each bound, the rule that set it, in words.
        total_steps: the length of training the schedule was built for.
        momentum: the matching momentum (Adam beta1) schedule for one-cycle, else None.
    """

    policy: str
    schedule: Schedule
    bounds: Mapping[str, float]
    rules: Mapping[str, str]
    total_steps: int
    momentum: Schedule | None = field(default=None)

    def __call__(self, step: int) -> float:
        return self.schedule(step)

    def __repr__(self) -> str:
        bounds = ", ".join(f"{k}={v:.4g}" for k, v in self.bounds.items())
        return (
            f"ScheduleChoice(policy={self.policy!r}, total_steps={self.total_steps}, {bounds}"
            f"{', momentum cycle' if self.momentum is not None else ''})"
        )

    def _repr_html_(self) -> str | None:
        return html(self)

    def plot(self, **options: Any) -> Any:
        """The rate (and the momentum cycle) at every step, :func:`lrfinder.plot_schedule`."""
        return present("plot:ScheduleChoice", self, **options)

    def __str__(self) -> str:
        lines = [f"{self.policy} over {self.total_steps} steps"]
        lines += [f"  {k} = {v:.4g}: {self.rules[k]}" for k, v in self.bounds.items()]
        return "\n".join(lines)


def _peak(
    result: RangeTestResult, method: str | None, name: str, use: str = "constant"
) -> tuple[dict, dict]:
    """The suggestion for how the rate will be used, where the method tells uses apart."""
    aware = (DEFAULT_METHOD if method is None else method) in _SCHEDULE_AWARE
    s = quiet_suggest(result, method, for_schedule=use if aware else "constant")
    return {name: s.lr}, {name: f"suggestion `{s.method}`: {s.reason}"}


def cyclic_bounds(result: RangeTestResult) -> tuple[dict[str, float], dict[str, str]]:
    """``base_lr`` where the smoothed loss starts falling, ``max_lr`` where it stops falling;
    ``base_lr = max_lr / 4`` when the curve was already falling at its first rate."""
    curve = read_curve(result)
    stop = curve.argmin
    max_lr = float(curve.lrs[stop])
    fall = curve.smooth[0] - curve.smooth[: stop + 1]
    start = int(np.argmax(fall >= START_FRACTION * fall[-1]))
    bounds = {"base_lr": float(curve.lrs[start]), "max_lr": max_lr}
    rules = {
        "base_lr": f"the smoothed loss starts falling here (step {start}: "
        f"{START_FRACTION:.0%} of its fall done)",
        "max_lr": f"the smoothed loss stops falling here (its lowest point, step {stop})",
    }
    if (
        start <= 1
        or start >= stop
        or _falling_from_the_start(curve.smooth[: stop + 1], curve.log_lrs[: stop + 1])
    ):
        bounds["base_lr"] = max_lr / 4
        rules["base_lr"] = (
            "max_lr / 4 (Smith's rule of thumb): the curve does not show where the fall "
            "starts (the sweep began inside the fall, or the fall is too short to place it)"
        )
    return bounds, rules


def _falling_from_the_start(smooth: np.ndarray, log_lrs: np.ndarray) -> bool:
    """Whether the first tenth of the fall already descends at a quarter of the steepest slope
    or more: then the sweep began inside the fall, and its true start is unseen."""
    if smooth.size < 3:
        return True
    k = max(2, smooth.size // 10)
    initial = (smooth[k] - smooth[0]) / (log_lrs[k] - log_lrs[0])
    steepest = float(np.min(np.gradient(smooth, log_lrs)))
    return bool(initial <= 0.25 * steepest)


def schedule_from(
    result: RangeTestResult | tuple[Any, Any],
    policy: str,
    *,
    total_steps: int,
    method: str | None = None,
    **options: Any,
) -> ScheduleChoice:
    """The schedule ``policy`` for ``total_steps`` steps of training, bounded by a range test.

    - ``one_cycle``: the peak ``max_lr`` is the suggestion of ``method`` (the default
      suggestion if None); the momentum cycle comes with it (Smith & Topin 2018).
    - ``triangular``, ``triangular2``, ``exp_range``: ``base_lr`` where the loss starts falling,
      ``max_lr`` where it stops falling, or ``max_lr / 4`` as the fallback (Smith 2015/2017).
      ``step_size`` defaults to half of ``total_steps``, so training ends with a cycle.
    - ``cosine_annealing``: cosine annealing over ``total_steps`` from the suggestion;
      ``constant``: the suggestion throughout.

    Args:
        result: the range test, or an ``(lrs, losses)`` pair.
        policy: one of the policies above, named as their factories in
            :mod:`lrfinder.schedules` (the older ``cosine`` and ``onecycle`` are accepted).
        total_steps: optimizer steps the schedule covers.
        method: the suggestion method for the peak (``one_cycle``, ``cosine_annealing``,
            ``constant``).
        **options: passed to the schedule's factory (``pct_start``, ``div_factor``, ``gamma``,
            ``eta_min``...); ``base_momentum``/``max_momentum`` go to the momentum cycle.

    Raises:
        NoSuggestionError: the curve has no usable rate; the message says why.

    Examples:
        >>> import numpy as np
        >>> lrs = np.logspace(-5, 0, 100)
        >>> losses = 1 / (1 + np.exp(3 * (np.log10(lrs) + 2))) + np.where(lrs > 0.1, lrs * 20, 0)
        >>> choice = schedule_from((lrs, losses), "triangular2", total_steps=10_000)
        >>> sorted(choice.bounds), choice.rules["max_lr"][:31]
        (['base_lr', 'max_lr'], 'the smoothed loss stops falling')
        >>> choice(0) == choice.bounds["base_lr"], choice(5000) == choice.bounds["max_lr"]
        (True, True)
    """
    result = as_result(result)
    policy = schedule_name(policy, POLICIES, what="policy")
    total_steps = check_count("total_steps", total_steps)
    momentum: Schedule | None = None
    if policy in CYCLIC_MODES:
        bounds, rules = cyclic_bounds(result)
        options.setdefault("step_size", max(1, total_steps // 2))
        schedule = cyclic(bounds["base_lr"], bounds["max_lr"], mode=policy, **options)
    elif policy == "one_cycle":
        bounds, rules = _peak(result, method, "max_lr", use="one_cycle")
        cycle: dict[str, Any] = {
            k: options.pop(k) for k in ("base_momentum", "max_momentum") if k in options
        }
        cycle.update({k: options[k] for k in _SHARED_ONE_CYCLE if k in options})
        schedule = one_cycle(bounds["max_lr"], total_steps=total_steps, **options)
        momentum = one_cycle_momentum(total_steps=total_steps, **cycle)
    elif policy == "cosine_annealing":
        bounds, rules = _peak(result, method, "lr")
        schedule = cosine_annealing(bounds["lr"], T_max=total_steps, **options)
    else:
        bounds, rules = _peak(result, method, "lr")
        if options:
            raise LRFinderError(f"`constant` takes no options. Received: {sorted(options)!r}")
        schedule = constant(bounds["lr"])
    return ScheduleChoice(
        policy=policy,
        schedule=schedule,
        bounds=MappingProxyType(bounds),
        rules=MappingProxyType(rules),
        total_steps=total_steps,
        momentum=momentum,
    )
