import math
import sys
from pathlib import Path

import numpy as np
import pytest

from _curves import sigmoid_curve

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lrfinder  # noqa: E402


def test_plot_loss_marks_the_suggestions(tmp_path: Path) -> None:
    curve = sigmoid_curve()
    fig, ax = lrfinder.plot_loss(curve, methods=["minimum", "steepest"])
    assert isinstance(fig, Figure) and ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("minimum: ") for label in labels)
    assert any(label.startswith("steepest: ") for label in labels)
    marked = [
        line.get_xdata()[0] for line in ax.get_lines() if line.get_label().startswith("steepest")
    ]
    assert marked[0] == pytest.approx(lrfinder.suggest(curve, "steepest").lr)
    fig.savefig(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_plots_draw_on_a_given_axes_and_never_touch_pyplot() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    out_fig, out_ax = lrfinder.plot_derivative(sigmoid_curve(), ax=ax)
    assert out_fig is fig and out_ax is ax
    assert len(ax.get_lines()) >= 2
    fig2, (top, bottom) = lrfinder.plot_result(sigmoid_curve())
    assert isinstance(top, Axes) and isinstance(bottom, Axes) and fig2 is top.get_figure()
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_unusable_curves_still_plot() -> None:
    flat = lrfinder.RangeTestResult(lrs=[1e-3, 1e-2, 1e-1], losses=[1.0, 1.0, 1.0])
    _fig, ax = lrfinder.plot_loss(flat)
    assert len(ax.get_lines()) == 1  # the raw curve, no suggestion to mark


def test_missing_matplotlib_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'lrfinder\[plot\]'"):
        lrfinder.plot_loss(sigmoid_curve())


BIG = 1.7e308


@pytest.mark.parametrize(
    "losses",
    [
        [BIG, -BIG] * 20,  # crashed: "Axis limits cannot be NaN or Inf", "Singular matrix"
        list(np.linspace(1, -1, 40) * BIG),
        [*np.linspace(2, 1, 30), *[BIG] * 10],
        [BIG] * 40,  # flat: no curve to read, the raw losses alone
        [5e-324] * 40,
        [math.nan] * 40,
        [0.0] * 30 + [2.0**1023] + [0.0] * 8 + [-1.0],  # a leap before the lowest point
    ],
)
def test_plots_of_extreme_finite_losses(tmp_path: Path, losses: list[float]) -> None:
    result = lrfinder.RangeTestResult(lrs=np.logspace(-5, 0, 40), losses=losses)
    fig, (top, bottom) = lrfinder.plot_result(result)
    fig.savefig(tmp_path / "extreme.png")
    for ax in (top, bottom):
        assert all(math.isfinite(v) for v in ax.get_ylim())
    if losses[0] == BIG:
        assert top.get_ylabel().startswith("loss (x ")  # drawn in units of a power of two


def test_a_blow_up_to_the_maximum_is_drawn_in_plain_units() -> None:
    losses = [*np.linspace(2, 1, 30), *[BIG] * 10]
    _fig, ax = lrfinder.plot_loss(
        lrfinder.RangeTestResult(lrs=np.logspace(-5, 0, 40), losses=losses)
    )
    assert ax.get_ylabel() == "loss" and ax.get_ylim()[1] < 10
