import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import lrfinder  # noqa: E402
from _curves import sigmoid_curve  # noqa: E402


def race() -> lrfinder.TuneResult:
    def trial(lr: float, steps: int) -> float:
        if lr > 0.05:
            return math.nan  # diverged
        return float(np.log10(lr / 3e-3) ** 2 + 10 / steps)

    return lrfinder.tune_lr(trial, result=sigmoid_curve(), budget_steps=100, progress=False)


def test_the_race_is_drawn_beside_its_range_test() -> None:
    tuned = race()
    fig, (left, right) = lrfinder.plot_race(tuned)
    assert len(fig.axes) == 2
    # One line per candidate on the right, the winner's the thickest.
    lines = [line for line in right.get_lines() if line.get_marker() == "o"]
    assert len(lines) == len(tuned.rates)
    widths = {line.get_label(): line.get_linewidth() for line in lines}
    assert widths[f"{tuned.lr:.2e} (winner)"] == max(widths.values())
    diverged = [line for line in right.get_lines() if line.get_marker() == "x"]
    assert len(diverged) == sum(1 for r in tuned.rounds for v in r.losses if v == math.inf)
    # The candidates are marked on the range test, the winner among them.
    marked = [line.get_xdata()[0] for line in left.get_lines() if line.get_linestyle() == ":"]
    assert marked == pytest.approx(list(tuned.rates))
    assert f"race winner: {tuned.lr:.2e}" in [t.get_text() for t in left.get_legend().get_texts()]


def test_a_race_of_given_rates_has_no_range_test_panel() -> None:
    tuned = lrfinder.tune_lr(
        lambda lr, steps: abs(math.log10(lr) + 2),
        rates=[1e-3, 1e-2, 1e-1],
        budget_steps=10,
        progress=False,
    )
    _, (left, _) = lrfinder.plot_race(tuned)
    assert not left.axison
