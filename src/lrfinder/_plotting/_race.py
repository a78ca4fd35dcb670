"""Plot of a race: each candidate's held-out loss by round, beside the range test it came from."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .._core._display import provide
from .._tuning._race_result import TuneResult
from ._plot import Plot
from ._result import method_style, new_figure, plot_loss

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_race(tuned: TuneResult) -> Plot[tuple[Axes, Axes]]:
    """Two panels: the range test with the candidates marked (left), and each candidate's
    held-out loss after each round it ran, against the steps it trained (right).

    A diverged trial is drawn as a cross at the top of the right panel; the winner is bold.

    Examples:
        >>> import lrfinder
        >>> fig, (left, right) = lrfinder.plot_race(tuned)  # doctest: +SKIP
        >>> fig.savefig("race.png")  # doctest: +SKIP
    """
    fig = new_figure((12, 4.2))
    left, right = fig.subplots(1, 2)
    if tuned.range_test is not None:
        plot_loss(tuned.range_test, ax=left)
        for lr in tuned.rates:
            left.axvline(lr, color="0.3", lw=0.8, ls=":")
        left.axvline(
            tuned.lr, color=method_style("race")[0], lw=2, label=f"race winner: {tuned.lr:.2e}"
        )
        left.legend(loc="best", fontsize="small")
    else:
        left.text(0.5, 0.5, "no range test: the rates were given", ha="center", va="center")
        left.set_axis_off()
    finite = [v for r in tuned.rounds for v in r.losses if math.isfinite(v)]
    top = max(finite) if finite else 1.0
    for k, lr in enumerate(tuned.rates):
        steps = [r.steps for r in tuned.rounds if not math.isnan(r.losses[k])]
        losses = [r.losses[k] for r in tuned.rounds if not math.isnan(r.losses[k])]
        won = lr == tuned.lr
        shown = [v if math.isfinite(v) else np.nan for v in losses]
        line = right.plot(
            steps,
            shown,
            marker="o",
            lw=2.5 if won else 1.2,
            label=f"{lr:.2e}" + (" (winner)" if won else ""),
        )[0]
        for s, v in zip(steps, losses, strict=True):
            if not math.isfinite(v):
                right.plot([s], [top], marker="x", color=line.get_color(), ms=9)
    right.set_xlabel("steps trained")
    right.set_ylabel("held-out loss")
    right.set_title(
        f"Race: {len(tuned.rates)} rates, {tuned.trainings:.2f} trainings, "
        f"confidence {tuned.confidence:.2f}"
    )
    right.legend(loc="best", fontsize="small", title="candidate rate")
    return Plot(fig, (left, right))


provide("plot:TuneResult")(plot_race)
