"""See a schedule before training with it: the rate (and momentum) against the step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._core._checks import check_count
from .._core._display import provide
from ..schedules._basic import Schedule, tabulate
from ..schedules._from import ScheduleChoice
from ._plot import Plot
from ._result import _figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_schedule(
    schedule: Schedule,
    steps: int,
    *,
    ax: Axes | None = None,
    momentum: Schedule | None = None,
    log: bool = False,
    title: str | None = None,
) -> Plot[Axes]:
    """The rate of ``schedule`` at steps ``0 .. steps - 1``; ``momentum`` on a second axis.

    matplotlib is imported only here; without ``ax`` a bare ``Figure`` is built (no display, no
    pyplot state), and ``show()`` is never called.

    Examples:
        >>> from lrfinder import schedules
        >>> fig, ax = plot_schedule(schedules.one_cycle(0.1, total_steps=1000), 1000)
        >>> fig.savefig("one_cycle.png")  # doctest: +SKIP
    """
    steps = check_count("steps", steps)
    fig, ax = _figure(ax)
    x = np.arange(steps)
    values = tabulate(schedule, steps)
    ax.plot(x, values, color="C0", lw=2, label="learning rate")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if momentum is not None:
        twin = ax.twinx()
        twin.plot(x, tabulate(momentum, steps), color="C1", lw=1.5, ls="--", label="momentum")
        twin.set_ylabel("momentum (Adam beta1)")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, loc="best", fontsize="small")
    top = float(values.max())
    ax.set_title(title or f"{steps} steps, peak {top:.3g}, final {float(values[-1]):.3g}")
    return Plot(fig, ax)


@provide("plot:ScheduleChoice")
def plot_choice(choice: ScheduleChoice, **options: Any) -> Plot[Axes]:
    """A :class:`ScheduleChoice` over its ``total_steps``, with its momentum cycle."""
    bounds = ", ".join(f"{k} {v:.3g}" for k, v in choice.bounds.items())
    options.setdefault("title", f"{choice.policy} over {choice.total_steps} steps: {bounds}")
    return plot_schedule(choice, choice.total_steps, momentum=choice.momentum, **options)
