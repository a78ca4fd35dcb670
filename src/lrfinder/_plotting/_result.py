"""Plots of a range test: the loss against the rate, and the loss's rate of change.

matplotlib is imported only when a plot is drawn. Every function takes ``ax=None``, returns the
figure and axes (a :class:`Plot`, which unpacks as ``fig, ax`` and shows itself in a notebook),
and never calls ``show()``; without ``ax`` it builds a bare figure, which needs no display and
leaves no global pyplot state behind. Each takes one result or a list of them (repeats, batch
sizes, optimizers), drawn on the same axes in colours of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core._checks import check_count
from .._core._display import provide
from .._core._errors import LRFinderError, NoSuggestionError
from .._core._registry import DEFAULT_METHOD, Suggestion
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest
from .._reading._curve import _Curve, loss_scale, read_curve
from ._decimate import decimate
from ._plot import Plot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Results = RangeTestResult | Sequence[RangeTestResult]

# Each method has its own colour, line style and marker, so that two methods never read alike
# (the derivative panel's `sma_derivative` against the loss panel's `fall`, say).
METHOD_STYLES: dict[str, tuple[str, Any, str]] = {
    "fall": ("C3", "--", "o"),
    "valley": ("C2", "-.", "v"),
    "minimum": ("C4", ":", "s"),
    "steepest": ("C1", (0, (6, 2)), "^"),
    "sma_derivative": ("C5", (0, (3, 1, 1, 1)), "D"),
    "slide": ("C6", (0, (1, 1)), "P"),
    "race": ("C8", "-", "*"),
}
# For methods registered by users: styles no built-in method uses.
_SPARE_STYLES = [("C7", (0, (4, 1, 1, 1, 1, 1)), "X"), ("C9", (0, (8, 2, 1, 2)), "h")]
VALIDATION_COLOR = "C9"


def method_style(method: str) -> tuple[str, Any, str]:
    """``(colour, line style, marker)`` of a suggestion method's marks."""
    if method in METHOD_STYLES:
        return METHOD_STYLES[method]
    return _SPARE_STYLES[sum(map(ord, method)) % len(_SPARE_STYLES)]


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A bare figure (no pyplot, no display) that a notebook shows as an image."""
    try:
        import matplotlib.figure  # noqa: F401 (checked each time: _figure may be loaded already)

        from ._figure import ShownFigure
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'lrfinder[plot]' (or pip install matplotlib)"
        ) from None
    return ShownFigure(figsize=figsize, layout="constrained")


def _figure(ax: Any, nrows: int = 1) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.get_figure(), ax
    fig = new_figure((7, 3.6 * nrows))
    return fig, fig.subplots(nrows, 1, sharex=True)


def _results(result: Results) -> list[RangeTestResult]:
    if isinstance(result, RangeTestResult):
        return [result]
    items = list(result) if isinstance(result, (list, tuple)) else []
    if not items or not all(isinstance(r, RangeTestResult) for r in items):
        raise LRFinderError(
            "Pass a RangeTestResult, or a list of them to draw on the same axes. Received: "
            f"{type(result).__name__}"
            + (f" of {[type(r).__name__ for r in items][:3]}" if items else "")
        )
    return items


def _labels(label: str | Sequence[str] | None, results: list[RangeTestResult]) -> list[str]:
    if len(results) == 1:
        if isinstance(label, (list, tuple)):
            raise LRFinderError(f"One result takes one `label`. Received: label={label!r}")
        return ["loss (smoothed)" if label is None else str(label)]
    if label is None:
        return [f"run {k + 1}" for k in range(len(results))]
    if isinstance(label, str) or len(label) != len(results):
        raise LRFinderError(
            f"Several results take one label each ({len(results)}). Received: label={label!r}"
        )
    return [str(x) for x in label]


def _window(result: RangeTestResult, skip_start: int, skip_end: int) -> tuple[float, float]:
    """The range of rates drawn once ``skip_start`` and ``skip_end`` steps are left out."""
    skip_start = check_count("skip_start", skip_start, minimum=0)
    skip_end = check_count("skip_end", skip_end, minimum=0)
    if (skip_start or skip_end) and skip_start + skip_end > result.steps - 2:
        raise LRFinderError(
            "`skip_start` + `skip_end` must leave at least 2 of the result's steps to draw. "
            f"Received: skip_start={skip_start}, skip_end={skip_end} for {result.steps} steps. "
            "Skip fewer steps."
        )
    lrs = result.lrs[skip_start : result.steps - skip_end]
    if lrs.size == 0:  # nothing recorded: nothing to leave out
        return -math.inf, math.inf
    return float(lrs.min()), float(lrs.max())


def is_linear(result: RangeTestResult) -> bool:
    """Whether the sweep was linear: by its settings, or, for a curve logged elsewhere, by
    rates evenly spaced on a linear scale."""
    mode = result.settings.get("mode")
    if mode is not None:
        return mode == "linear"
    steps = np.diff(result.lrs)
    return bool(result.steps >= 3 and np.allclose(steps, steps[0], rtol=1e-6, atol=0.0))


# A log axis wider than this many decades gets minor ticks at 2 and 5 of each decade only:
# matplotlib's 2..9 draw no labels there, and building their ticks was half of writing a PNG.
_WIDE_DECADES = 3.0


def _set_x(ax: Axes, results: list[RangeTestResult], windows: list[tuple[float, float]]) -> None:
    log = not all(is_linear(r) for r in results)
    ax.set_xscale("log" if log else "linear")
    ax.set_xlabel("learning rate")
    skipped = [w for r, w in zip(results, windows, strict=True) if w != (r.lrs.min(), r.lrs.max())]
    if skipped:
        ax.set_xlim(min(w[0] for w in windows), max(w[1] for w in windows))
    drawn = [
        r.lrs[(r.lrs >= lo) & (r.lrs <= hi) & (r.lrs > 0)]
        for r, (lo, hi) in zip(results, windows, strict=True)
    ]
    drawn = [d for d in drawn if d.size]
    if log and drawn:
        span = math.log10(max(float(d.max()) for d in drawn) / min(float(d.min()) for d in drawn))
        if span > _WIDE_DECADES:
            from matplotlib.ticker import LogLocator

            ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))


def _suggestions(result: RangeTestResult, methods: Sequence[str] | None) -> list[Suggestion]:
    out = []
    for name in [DEFAULT_METHOD] if methods is None else methods:
        try:
            out.append(quiet_suggest(result, name))
        except NoSuggestionError:
            continue
    return out


def _curve(result: RangeTestResult) -> _Curve | None:
    try:
        return read_curve(result)
    except NoSuggestionError:
        return None


def _limits(lrs: np.ndarray, smooth: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The loss axis for a curve: from its lowest point to a little above where it started, in
    the drawn window, so the blow-up at the end does not flatten the interesting part."""
    shown = smooth[(lrs >= lo) & (lrs <= hi)]
    shown = shown if shown.size else smooth
    top = float(shown[0]) + 0.5 * abs(float(shown[0] - shown.min()))
    return float(shown.min()), top


def _mark(
    ax: Axes,
    s: Suggestion,
    *,
    color: str | None,
    label: str,
    curve_x: np.ndarray | None,
    curve_y: np.ndarray | None,
) -> None:
    """A suggestion: a vertical line in the method's style, and its marker on the curve."""
    own_color, ls, marker = method_style(s.method)
    color = color or own_color
    if curve_x is None or curve_y is None or not curve_x.size:
        ax.axvline(s.lr, color=color, ls=ls, lw=1.2, label=label)
        return
    ax.axvline(s.lr, color=color, ls=ls, lw=1.2, label="_nolegend_")
    y = float(np.interp(np.log10(s.lr), np.log10(curve_x), curve_y))
    # The legend's entry: the method's line style with its marker, at the curve's height.
    ax.plot([s.lr], [y], color=color, ls=ls, lw=1.2, marker=marker, ms=7, label=label)


def plot_loss(
    result: Results,
    *,
    ax: Axes | None = None,
    methods: Sequence[str] | None = None,
    label: str | Sequence[str] | None = None,
    skip_start: int = 0,
    skip_end: int = 0,
) -> Plot[Axes]:
    """The loss against the rate, with the suggestions of ``methods`` marked.

    Shows the raw loss of each step, the centred smoothed curve the suggestions read, and the
    default suggestion's range shaded; the validation losses too, when the test recorded them.
    The y axis stops a little above the starting loss, so the blow-up at the end does not
    flatten the interesting part. The x axis is logarithmic, or linear for a linear sweep.

    Args:
        result: a result, or a list of them drawn on the same axes, each in its own colour with
            its default suggestion (or those of ``methods``) marked.
        ax: the axes to draw on; a new figure when None.
        methods: the suggestion methods to mark (default: the default method).
        label: the legend's name for the smoothed curve; one per result for a list.
        skip_start: steps left out at the start of the curve (the drawn part and the loss
            axis only; suggestions still read the whole curve).
        skip_end: steps left out at the end of the curve, likewise.

    Examples:
        >>> import lrfinder
        >>> fig, ax = lrfinder.plot_loss(result, skip_start=10, skip_end=5)  # doctest: +SKIP
        >>> fig.savefig("lr_find.png")  # doctest: +SKIP
        >>> lrfinder.plot_loss([r32, r256], label=["batch 32", "batch 256"])  # doctest: +SKIP
    """
    results = _results(result)
    labels = _labels(label, results)
    windows = [_window(r, skip_start, skip_end) for r in results]
    fig, ax = _figure(ax)
    several = len(results) > 1
    curves = [_curve(r) for r in results]
    # Losses near the float maximum would overflow matplotlib's limits: they are drawn in units
    # of a power of two (the curves' own, or one for the raw losses), and named on the axis.
    unit = max(
        c.scale if c is not None else loss_scale(r.losses)
        for r, c in zip(results, curves, strict=True)
    )
    spans: list[tuple[float, float]] = []
    for k, (r, curve, name, (lo, hi)) in enumerate(
        zip(results, curves, labels, windows, strict=True)
    ):
        color = f"C{k}" if several else None
        spans += _draw_loss(
            ax, r, curve, name=name, color=color, unit=unit, lo=lo, hi=hi, methods=methods
        )
    if spans:
        bottom = min(b for b, _ in spans)
        top = max(t for _, t in spans)
        pad = 0.1 * max(top - bottom, 1e-12)
        ax.set_ylim(bottom - pad, top + pad)
    _set_x(ax, results, windows)
    ax.set_ylabel("loss" if unit == 1.0 else f"loss (x {unit:.3g})")
    if several:
        ax.set_title(f"Range tests: {len(results)} curves")
    else:
        ax.set_title(f"Range test: {results[0].steps} steps, stopped: {results[0].stop_reason}")
    ax.legend(loc="best", fontsize="small")
    return Plot(fig, ax)


def _draw_loss(
    ax: Axes,
    result: RangeTestResult,
    curve: _Curve | None,
    *,
    name: str,
    color: str | None,
    unit: float,
    lo: float,
    hi: float,
    methods: Sequence[str] | None,
) -> list[tuple[float, float]]:
    """Draw one result; return the loss ranges (bottom, top) its curves need on the axis."""
    drawn = (result.lrs >= lo) & (result.lrs <= hi)
    finite = np.isfinite(result.losses) & drawn
    raw = result.losses[finite] / unit
    spans: list[tuple[float, float]] = []
    smooth_x = smooth_y = None
    if curve is not None:
        smooth_x = curve.lrs
        smooth_y = curve.smooth * (curve.scale / unit)
        bottom, top = _limits(smooth_x, smooth_y, lo, hi)
        spans.append((bottom, top))
        # Off the axis anyway: clipped, so a blow-up of 1e308 cannot overflow the data limits.
        reach = 10.0 * (top - bottom) + 1e-12
        raw = np.clip(raw, bottom - reach, top + reach)
    raw_style: dict[str, Any] = (
        {"color": "0.75"} if color is None else {"color": color, "alpha": 0.3}
    )
    ax.plot(
        *decimate(result.lrs[finite], raw),
        lw=1,
        label="loss (raw)" if color is None else "_nolegend_",
        **raw_style,
    )
    if smooth_x is not None and smooth_y is not None:
        keep = (smooth_x >= lo) & (smooth_x <= hi)
        ax.plot(*decimate(smooth_x[keep], smooth_y[keep]), color=color or "C0", lw=2, label=name)
    if result.val_losses is not None and not np.isnan(result.val_losses).all():
        measured = ~np.isnan(result.val_losses) & np.isfinite(result.val_losses) & drawn
        val = result.val_losses[measured] / unit
        if val.size:
            if spans:
                bottom, top = spans[0]
                reach = 10.0 * (top - bottom) + 1e-12
                val = np.clip(val, bottom - reach, top + reach)
            spans.append(_limits(result.lrs[measured], val, lo, hi))
            ax.plot(
                *decimate(result.lrs[measured], val),
                color=color or VALIDATION_COLOR,
                ls=":" if color else "-",
                lw=1.2,
                marker="x",
                ms=5,
                label="validation loss" if color is None else f"{name}, validation",
            )
    for k, s in enumerate(_suggestions(result, methods)):
        text = f"{s.method}: {s.lr:.2e}" if color is None else f"{name}, {s.method}: {s.lr:.2e}"
        _mark(ax, s, color=color, label=text, curve_x=smooth_x, curve_y=smooth_y)
        if k == 0 and color is None and s.low < s.high:
            ax.axvspan(
                s.low,
                s.high,
                color=method_style(s.method)[0],
                alpha=0.12,
                label=f"{s.method} range",
            )
    return spans


def plot_derivative(
    result: Results,
    *,
    ax: Axes | None = None,
    window: int | None = None,
    label: str | Sequence[str] | None = None,
    skip_start: int = 0,
    skip_end: int = 0,
) -> Plot[Axes]:
    """The loss's change per step and its simple moving average over ``window`` steps, whose
    minimum marks the fastest descent (the ``sma_derivative`` suggestion).

    Takes one result or a list of them, ``label``, ``skip_start`` and ``skip_end`` as
    :func:`plot_loss` does.
    """
    results = _results(result)
    labels = _labels(label, results)
    windows = [_window(r, skip_start, skip_end) for r in results]
    fig, ax = _figure(ax)
    several = len(results) > 1
    units = []
    spreads = []
    for k, (r, name, (lo, hi)) in enumerate(zip(results, labels, windows, strict=True)):
        curve = _curve(r)
        if curve is None:
            continue
        units.append(curve.scale)
        color = f"C{k}" if several else None
        spreads.append(
            _draw_derivative(ax, r, curve, name=name, color=color, window=window, lo=lo, hi=hi)
        )
    if spreads:
        spread = max(spreads)
        ax.set_ylim(-1.5 * spread, 1.5 * spread)
    ax.axhline(0.0, color="0.4", lw=0.6)
    _set_x(ax, results, windows)
    unit = max(units, default=1.0)
    ax.set_ylabel("d loss / step" if unit == 1.0 else f"d loss / step (x {unit:.3g})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    return Plot(fig, ax)


def _draw_derivative(
    ax: Axes,
    result: RangeTestResult,
    curve: _Curve,
    *,
    name: str,
    color: str | None,
    window: int | None,
    lo: float,
    hi: float,
) -> float:
    """Draw one result's change per step; return the spread of its falling part."""
    w, averaged = curve.averaged_change(window)
    # Scale to the falling part: the blow-up at the end would flatten everything else.
    keep = (curve.lrs >= lo) & (curve.lrs <= hi)
    falling = averaged[: max(curve.argmin + 1, 2)]
    spread = (
        float(
            np.max(np.abs(falling[keep[: falling.size]] if keep[: falling.size].any() else falling))
        )
        or 1.0
    )
    # Far below the float maximum, so neither `reach` nor matplotlib's margins overflow (a step
    # that leaps to 1e308 before the lowest point makes the spread that large).
    spread = min(spread, 2.0**1000)
    reach = 15.0 * spread  # beyond the axis: clipped so no limit overflows
    change = np.clip(curve.change, -reach, reach)
    averaged = np.clip(averaged, -reach, reach)
    if color is None:
        ax.plot(
            *decimate(curve.lrs[keep], change[keep]), color="0.75", lw=1, label="change per step"
        )
        ax.plot(
            *decimate(curve.lrs[keep], averaged[keep]),
            color="C0",
            lw=2,
            label=f"{w}-step moving average",
        )
    else:
        ax.plot(
            *decimate(curve.lrs[keep], averaged[keep]),
            color=color,
            lw=2,
            label=f"{name}, {w}-step average",
        )
    try:
        s = quiet_suggest(result, "sma_derivative", window=w)
    except NoSuggestionError:
        return spread
    text = f"sma_derivative (fastest descent): {s.lr:.2e}"
    _mark(
        ax,
        s,
        color=color,
        label=text if color is None else f"{name}, {text}",
        curve_x=curve.lrs,
        curve_y=averaged,
    )
    return spread


def plot_result(
    result: Results,
    *,
    ax: Sequence[Axes] | None = None,
    methods: Sequence[str] | None = None,
    label: str | Sequence[str] | None = None,
    skip_start: int = 0,
    skip_end: int = 0,
) -> Plot[tuple[Axes, Axes]]:
    """The two panels a user reads: :func:`plot_loss` above :func:`plot_derivative`.

    Takes one result or a list of them (drawn on the same axes), and ``methods``, ``label``,
    ``skip_start`` and ``skip_end`` as :func:`plot_loss` does; ``ax`` is a pair of axes (top,
    bottom) to draw on, a new figure when None. ``result.plot()`` is the same plot.

    Examples:
        >>> import lrfinder
        >>> fig, (top, bottom) = lrfinder.plot_result([r1, r2, r3])  # doctest: +SKIP
    """
    top: Axes
    bottom: Axes
    if ax is not None:
        pair: list[Any] = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(pair) != 2:
            raise LRFinderError(
                "`ax` must be a pair of axes (top, bottom) for the two panels. Received: "
                f"{type(ax).__name__} of {len(pair)}; draw one panel with plot_loss(..., ax=ax)."
            )
        top, bottom = pair
        fig = top.get_figure()
    else:
        fig, (top, bottom) = _figure(None, nrows=2)
    plot_loss(
        result, ax=top, methods=methods, label=label, skip_start=skip_start, skip_end=skip_end
    )
    top.set_xlabel("")
    plot_derivative(result, ax=bottom, label=label, skip_start=skip_start, skip_end=skip_end)
    return Plot(fig, (top, bottom))  # type: ignore[arg-type]


provide("plot:RangeTestResult")(plot_result)
