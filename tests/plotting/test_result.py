import math
import sys
from pathlib import Path
from typing import Any

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


# -- what the plot functions return, and notebook display -------------------------------------


def test_a_plot_unpacks_as_figure_and_axes_and_shows_itself_as_png() -> None:
    plot = lrfinder.plot_result(sigmoid_curve())
    fig, (top, bottom) = plot
    assert plot.figure is fig and plot.axes == (top, bottom)
    png = plot._repr_png_()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000
    # The figure alone shows itself too, with no %matplotlib inline and no pyplot.
    assert fig._repr_png_()[:4] == b"\x89PNG"
    assert isinstance(fig, Figure)


def test_result_plot_is_plot_result(tmp_path: Path) -> None:
    _fig, (top, _) = sigmoid_curve().plot(methods=["valley"])
    assert any(line.get_label().startswith("valley: ") for line in top.get_lines())
    sigmoid_curve().plot().savefig(tmp_path / "one.png")
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"


# -- torch-lr-finder's plot(): skip_start, skip_end, ax, label -----------------------------------


def _smoothed(ax: Axes, label: str = "loss (smoothed)") -> Any:
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_skip_start_and_skip_end_leave_out_steps_of_the_drawing() -> None:
    curve = sigmoid_curve()
    _, ax = lrfinder.plot_loss(curve, skip_start=10, skip_end=5)
    raw = next(line for line in ax.get_lines() if line.get_label() == "loss (raw)")
    np.testing.assert_array_equal(raw.get_xdata(), curve.lrs[10:95])
    drawn = _smoothed(ax).get_xdata()
    assert drawn.min() >= curve.lrs[10] and drawn.max() <= curve.lrs[94]
    assert ax.get_xlim() == pytest.approx((curve.lrs[10], curve.lrs[94]))
    # The suggestion still reads the whole curve.
    marked = next(line for line in ax.get_lines() if line.get_label().startswith("fall: "))
    assert marked.get_xdata()[0] == pytest.approx(lrfinder.suggest(curve).lr)


def test_skipping_the_flat_start_zooms_the_loss_axis_on_the_rest() -> None:
    curve = sigmoid_curve()
    _, whole = lrfinder.plot_loss(curve)
    _, skipped = lrfinder.plot_loss(curve, skip_start=45)
    assert skipped.get_ylim()[1] < whole.get_ylim()[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"skip_start": -1},
            r"`skip_start` must be an integer of at least 0\. Received: skip_start=-1",
        ),
        ({"skip_end": 1.5}, r"`skip_end` must be an integer of at least 0"),
        (
            {"skip_start": 60, "skip_end": 39},
            r"must leave at least 2 of the result's steps.*skip_start=60, skip_end=39 for 100 steps",
        ),
    ],
)
def test_bad_skips_say_what_to_change(options: dict[str, Any], message: str) -> None:
    with pytest.raises(lrfinder.LRFinderError, match=message):
        lrfinder.plot_loss(sigmoid_curve(), **options)


def test_label_names_the_curve_in_the_legend() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    out_fig, out_ax = lrfinder.plot_loss(sigmoid_curve(), ax=ax, label="Adam, batch 64")
    assert out_fig is fig and out_ax is ax
    assert "Adam, batch 64" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_result_draws_on_a_given_pair_of_axes() -> None:
    fig = Figure()
    top, bottom = fig.subplots(2, 1)
    out, axes = lrfinder.plot_result(sigmoid_curve(), ax=(top, bottom))
    assert out is fig and axes == (top, bottom) and len(bottom.get_lines()) >= 2
    with pytest.raises(lrfinder.LRFinderError, match=r"`ax` must be a pair of axes.*plot_loss"):
        lrfinder.plot_result(sigmoid_curve(), ax=top)


# -- several results on one axes -----------------------------------------------------------------


def test_several_results_share_the_axes_each_in_its_own_colour() -> None:
    runs = [sigmoid_curve(centre=c) for c in (-3.0, -2.0, -1.5)]
    _fig, (top, bottom) = lrfinder.plot_result(runs, label=["bs 32", "bs 64", "bs 128"])
    curves = [_smoothed(top, name) for name in ("bs 32", "bs 64", "bs 128")]
    assert len({line.get_color() for line in curves}) == 3
    for run, line, name in zip(runs, curves, ("bs 32", "bs 64", "bs 128"), strict=True):
        marks = [m for m in top.get_lines() if m.get_label().startswith(f"{name}, fall: ")]
        assert marks[0].get_xdata()[0] == pytest.approx(lrfinder.suggest(run).lr)
        assert marks[0].get_color() == line.get_color()
    assert sum(line.get_label().endswith("-step average") for line in bottom.get_lines()) == 3
    assert top.get_title() == "Range tests: 3 curves"


def test_several_results_are_named_run_1_to_n_by_default() -> None:
    _, ax = lrfinder.plot_loss([sigmoid_curve(), sigmoid_curve(centre=-3.0)])
    assert {"run 1", "run 2"} <= {line.get_label() for line in ax.get_lines()}


@pytest.mark.parametrize(
    ("result", "label", "message"),
    [
        ([sigmoid_curve()] * 2, ["one"], r"Several results take one label each \(2\)"),
        ([sigmoid_curve()] * 2, "one", r"Several results take one label each"),
        (sigmoid_curve(), ["a", "b"], r"One result takes one `label`"),
        ([1, 2, 3], None, r"Pass a RangeTestResult, or a list of them.*list of \['int'"),
        ([], None, r"Pass a RangeTestResult, or a list of them"),
    ],
)
def test_bad_results_or_labels_say_what_they_need(result: Any, label: Any, message: str) -> None:
    with pytest.raises(lrfinder.LRFinderError, match=message):
        lrfinder.plot_loss(result, label=label)


# -- the validation curve, the linear sweep, the marks of each method ----------------------------


def test_the_validation_curve_is_drawn_when_the_test_recorded_one() -> None:
    curve = sigmoid_curve()
    val = np.full(curve.steps, np.nan)
    val[::10] = curve.losses[::10] + 0.2
    result = lrfinder.RangeTestResult(lrs=curve.lrs, losses=curve.losses, val_losses=val)
    _, ax = lrfinder.plot_loss(result)
    line = next(line for line in ax.get_lines() if line.get_label() == "validation loss")
    np.testing.assert_array_equal(line.get_xdata(), curve.lrs[::10])
    np.testing.assert_allclose(line.get_ydata()[:5], curve.losses[:50:10] + 0.2)
    _, plain = lrfinder.plot_loss(curve)
    assert "validation loss" not in [line.get_label() for line in plain.get_lines()]


def test_a_linear_sweep_gets_a_linear_axis() -> None:
    lrs = np.linspace(1e-3, 1.0, 80)
    losses = 2.0 / (1.0 + np.exp(12 * (lrs - 0.3))) + np.where(lrs > 0.8, (lrs - 0.8) * 40, 0)
    linear = lrfinder.RangeTestResult(lrs=lrs, losses=losses, settings={"mode": "linear"})
    _fig, (top, bottom) = lrfinder.plot_result(linear)
    assert top.get_xscale() == "linear" and bottom.get_xscale() == "linear"
    # A CSV logged elsewhere has no settings: evenly spaced rates are read as a linear sweep.
    logged = lrfinder.RangeTestResult(lrs=lrs, losses=losses)
    assert lrfinder.plot_loss(logged)[1].get_xscale() == "linear"
    assert lrfinder.plot_loss(sigmoid_curve())[1].get_xscale() == "log"
    exp = lrfinder.RangeTestResult(lrs=lrs, losses=losses, settings={"mode": "exp"})
    assert lrfinder.plot_loss(exp)[1].get_xscale() == "log"


def test_a_wide_log_axis_keeps_minor_ticks_at_2_and_5_only() -> None:
    from matplotlib.ticker import LogLocator

    wide = sigmoid_curve()  # seven decades
    assert math.log10(wide.lrs.max() / wide.lrs.min()) > 3
    _fig, (top, bottom) = lrfinder.plot_result(wide)
    for ax in (top, bottom):
        lo, hi = ax.get_xlim()
        minor = [t for t in ax.xaxis.get_minorticklocs() if lo <= t <= hi]
        firsts = {round(t / 10 ** math.floor(math.log10(t) + 1e-9), 6) for t in minor}
        assert firsts == {2.0, 5.0}
    # Two decades: matplotlib's own minor ticks, 2 to 9.
    lrs = np.logspace(-3, -1, 60)
    narrow = lrfinder.RangeTestResult(lrs=lrs, losses=np.linspace(2.0, 1.0, 60))
    locator = lrfinder.plot_loss(narrow)[1].xaxis.get_minor_locator()
    assert isinstance(locator, LogLocator)
    lo, hi = 1e-3, 1e-1
    minor = [t for t in locator.tick_values(lo, hi) if lo < t < hi]
    assert len(minor) == 16


def test_the_derivative_panel_and_its_rule_share_one_moving_average(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lrfinder._reading import _curve

    calls = []
    real = _curve.sma
    monkeypatch.setattr(_curve, "sma", lambda *a, **k: calls.append(a) or real(*a, **k))
    lrfinder.plot_result(sigmoid_curve())
    assert len(calls) == 1


def _style(line: Any) -> tuple[Any, Any, Any]:
    return (line.get_color(), line.get_linestyle(), line.get_marker())


def test_each_method_is_marked_in_a_style_of_its_own() -> None:
    names = ["fall", "valley", "minimum", "steepest", "sma_derivative", "slide"]
    _fig, (top, bottom) = lrfinder.plot_result(sigmoid_curve(), methods=names)
    marks = {
        line.get_label().split(":")[0]: _style(line)
        for line in top.get_lines()
        if line.get_label().split(":")[0] in names
    }
    assert set(marks) == set(names)
    assert len(set(marks.values())) == len(names)
    assert len({m[0] for m in marks.values()}) == len(names)  # colours differ, markers too
    assert len({m[2] for m in marks.values()}) == len(names)
    # The derivative panel's sma_derivative line is drawn as sma_derivative, never as fall.
    fastest = next(
        line for line in bottom.get_lines() if line.get_label().startswith("sma_derivative")
    )
    assert _style(fastest) == marks["sma_derivative"] != marks["fall"]
