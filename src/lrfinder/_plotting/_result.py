"""Plots of a range test: the loss against the rate, and the loss's rate of change.

matplotlib is imported only when a plot is drawn. Every function takes ``ax=None``, returns the
figure and axes, and never calls ``show()``; without ``ax`` it builds a bare
``matplotlib.figure.Figure``, which needs no display and leaves no global pyplot state behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core._errors import NoSuggestionError
from .._core._registry import DEFAULT_METHOD, Suggestion
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest
from .._reading._curve import loss_change, loss_scale, read_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure(ax: Axes | None, nrows: int = 1) -> tuple[Figure, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'lrfinder[plot]' (or pip install matplotlib)"
        ) from None
    if ax is not None:
        return ax.get_figure(), ax  # type: ignore[return-value]
    fig = Figure(figsize=(7, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True)
    return fig, axes


def _suggestions(result: RangeTestResult, methods: Sequence[str] | None) -> list[Suggestion]:
    out = []
    for name in [DEFAULT_METHOD] if methods is None else methods:
        try:
            out.append(quiet_suggest(result, name))
        except NoSuggestionError:
            continue
    return out


def plot_loss(
    result: RangeTestResult,
    *,
    ax: Axes | None = None,
    methods: Sequence[str] | None = None,
) -> tuple[Figure, Axes]:
    """The loss against the rate on a log axis, with the suggestions of ``methods`` marked.

    Shows the raw loss of each step, the centred smoothed curve the suggestions read, and the
    default suggestion's range shaded. The y axis stops a little above the starting loss, so the
    blow-up at the end does not flatten the interesting part.

    Example:
        >>> import lrfinder
        >>> fig, ax = lrfinder.plot_loss(result)  # doctest: +SKIP
        >>> fig.savefig("lr_find.png")  # doctest: +SKIP
    """
    fig, ax = _figure(ax)
    finite = np.isfinite(result.losses)
    try:
        curve = read_curve(result)
    except NoSuggestionError:
        curve = None
    # Losses near the float maximum would overflow matplotlib's limits: they are drawn in units
    # of a power of two (the curve's own, or one for the raw losses), and named on the axis.
    unit = curve.scale if curve is not None else loss_scale(result.losses)
    raw = result.losses[finite] / unit
    if curve is not None:
        top = float(curve.smooth[0]) + 0.5 * abs(float(curve.smooth[0] - curve.smooth.min()))
        bottom = float(curve.smooth.min())
        pad = 0.1 * max(top - bottom, 1e-12)
        # Off the axis anyway: clipped, so a blow-up of 1e308 cannot overflow the data limits.
        reach = 10.0 * (top - bottom + pad)
        raw = np.clip(raw, bottom - reach, top + reach)
    ax.plot(result.lrs[finite], raw, color="0.75", lw=1, label="loss (raw)")
    if curve is not None:
        ax.plot(curve.lrs, curve.smooth, color="C0", lw=2, label="loss (smoothed)")
        ax.set_ylim(bottom - pad, top + pad)
    suggestions = _suggestions(result, methods)
    for k, s in enumerate(suggestions):
        color = f"C{k + 1}"
        ax.axvline(s.lr, color=color, ls="--", lw=1.2, label=f"{s.method}: {s.lr:.2e}")
        if k == 0 and s.low < s.high:
            ax.axvspan(s.low, s.high, color=color, alpha=0.12, label=f"{s.method} range")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss" if unit == 1.0 else f"loss (x {unit:.3g})")
    ax.set_title(f"Range test: {result.steps} steps, stopped: {result.stop_reason}")
    ax.legend(loc="best", fontsize="small")
    return fig, ax


def plot_derivative(
    result: RangeTestResult, *, ax: Axes | None = None, window: int | None = None
) -> tuple[Figure, Axes]:
    """The loss's change per step and its simple moving average over ``window`` steps, whose
    minimum marks the fastest descent (the ``sma_derivative`` suggestion)."""
    fig, ax = _figure(ax)
    try:
        curve = read_curve(result)
    except NoSuggestionError:
        curve = None
    unit = 1.0
    if curve is not None:
        unit = curve.scale
        w, averaged = loss_change(curve.raw, window)
        # Scale to the falling part: the blow-up at the end would flatten everything else.
        spread = float(np.max(np.abs(averaged[: max(curve.argmin + 1, 2)]))) or 1.0
        # Far below the float maximum, so neither `reach` nor matplotlib's margins overflow
        # (a step that leaps to 1e308 before the lowest point makes the spread that large).
        spread = min(spread, 2.0**1000)
        reach = 15.0 * spread  # beyond the axis: clipped so no limit overflows
        ax.plot(
            curve.lrs,
            np.clip(np.diff(curve.raw, prepend=curve.raw[0]), -reach, reach),
            color="0.75",
            lw=1,
            label="change per step",
        )
        ax.plot(
            curve.lrs,
            np.clip(averaged, -reach, reach),
            color="C0",
            lw=2,
            label=f"{w}-step moving average",
        )
        ax.set_ylim(-1.5 * spread, 1.5 * spread)
        try:
            s = quiet_suggest(result, "sma_derivative", window=w)
            ax.axvline(s.lr, color="C1", ls="--", lw=1.2, label=f"fastest descent: {s.lr:.2e}")
        except NoSuggestionError:
            pass
    ax.axhline(0.0, color="0.4", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("d loss / step" if unit == 1.0 else f"d loss / step (x {unit:.3g})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    return fig, ax


def plot_result(
    result: RangeTestResult, *, methods: Sequence[str] | None = None
) -> tuple[Figure, Any]:
    """The two panels a user reads: :func:`plot_loss` above :func:`plot_derivative`."""
    fig, (top, bottom) = _figure(None, nrows=2)
    plot_loss(result, ax=top, methods=methods)
    top.set_xlabel("")
    plot_derivative(result, ax=bottom)
    return fig, (top, bottom)
