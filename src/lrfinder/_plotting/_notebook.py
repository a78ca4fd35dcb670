"""How results show in a notebook: a summary, the table of suggestions, and the plot inline.

Jupyter calls ``_repr_html_`` on a cell's last value; the core's objects forward it to the
functions registered here (``lrfinder._core._display``), so the core never imports matplotlib.
The plot is embedded as a PNG, so a saved notebook shows it without a kernel.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .._core._display import provide
from .._core._registry import DEFAULT_METHOD, Suggestion
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest_all
from .._tuning._race_result import TuneResult
from ..schedules._from import ScheduleChoice
from ._plot import Plot, png_bytes

NO_MATPLOTLIB = "pip install 'lrfinder[plot]' (matplotlib) to see the plot here."


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], bold: int | None = None) -> str:
    """An HTML table of plain-text cells (escaped); row ``bold`` in bold."""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = []
    for k, row in enumerate(rows):
        cells = "".join(
            f"<td style='text-align:left'>{'<b>' if k == bold else ''}{html.escape(c)}"
            f"{'</b>' if k == bold else ''}</td>"
            for c in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _image(draw: Any, alt: str) -> str:
    """The plot ``draw()`` returns, as an embedded PNG; a hint when matplotlib is missing."""
    try:
        plot: Plot[Any] = draw()
    except ImportError:
        return f"<p><i>{html.escape(NO_MATPLOTLIB)}</i></p>"
    data = base64.b64encode(png_bytes(plot.figure)).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'/>"


def _warnings(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f"<p>Warnings: not to be trusted as it is</p><ul>{items}</ul>"


def _confidence(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _block(title: str, *parts: str) -> str:
    return f"<div class='lrfinder'><p><b>{html.escape(title)}</b></p>{''.join(parts)}</div>"


@provide("html:RangeTestResult")
def result_html(result: RangeTestResult) -> str:
    """The range test: its sweep, every method's suggestion (the default first) and the plot."""
    from ._result import plot_result

    suggestions = quiet_suggest_all(result)
    order = [DEFAULT_METHOD, *(m for m in suggestions if m != DEFAULT_METHOD)]
    rows = []
    for name in order:
        s = suggestions[name]
        label = f"{name} (default)" if name == DEFAULT_METHOD else name
        if isinstance(s, Suggestion):
            span = f"{s.low:.3g}..{s.high:.3g}"
            rows.append((label, f"{s.lr:.3g}", span, _confidence(s.confidence), s.reason))
        else:
            rows.append((label, "-", "-", "-", f"no suggestion: {s}"))
    mode = result.settings.get("mode")
    sweep = f"{result.lrs[0]:.3g} to {result.lrs[-1]:.3g}" + (f" ({mode})" if mode else "")
    default = suggestions[DEFAULT_METHOD]
    return _block(
        f"RangeTestResult: {result.steps} steps, {sweep}, stopped: {result.stop_reason}",
        _table(("method", "lr", "range", "confidence", "why"), rows, bold=0),
        _warnings(default.warnings if isinstance(default, Suggestion) else ()),
        _image(lambda: plot_result(result), "the range test: loss and its rate of change"),
    )


@provide("html:Suggestion")
def suggestion_html(s: Suggestion) -> str:
    """One suggestion: the rate, its range, its confidence and why, and its warnings."""
    row = [f"{s.lr:.3g}", s.method, f"{s.low:.3g}..{s.high:.3g}", _confidence(s.confidence)]
    header = ["lr", "method", "range", "confidence"]
    if s.spread is not None:
        header.append("spread (decades)")
        row.append(f"{s.spread:.2f}")
    return _block(
        f"Suggestion: {s.lr:.3g}",
        _table((*header, "why"), [(*row, s.reason)]),
        _warnings(s.warnings),
    )


@provide("html:ScheduleChoice")
def schedule_html(choice: ScheduleChoice) -> str:
    """The schedule: each bound with the rule that set it, and its plot over the training."""
    from ._schedule import plot_choice

    rows = [(name, f"{value:.4g}", choice.rules[name]) for name, value in choice.bounds.items()]
    return _block(
        f"ScheduleChoice: {choice.policy} over {choice.total_steps} steps",
        _table(("bound", "value", "rule"), rows),
        _image(lambda: plot_choice(choice), f"the {choice.policy} schedule"),
    )


def _loss(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "diverged" if math.isinf(value) else f"{value:.4g}"


@provide("html:TuneResult")
def race_html(tuned: TuneResult) -> str:
    """The race: every candidate's held-out loss by round (the winner in bold), its cost, and
    the plot beside its range test."""
    from ._race import plot_race

    header = ["rate", *(f"round {k + 1} ({r.steps} steps)" for k, r in enumerate(tuned.rounds))]
    rows = [
        [f"{lr:.3g}", *(_loss(r.losses[i]) for r in tuned.rounds)]
        for i, lr in enumerate(tuned.rates)
    ]
    winner = tuned.rates.index(tuned.lr)
    return _block(
        f"TuneResult: {tuned.lr:.3g}, confidence {tuned.confidence:.2f}, cost "
        f"{tuned.trainings:.2f} trainings ({tuned.steps_spent} steps)",
        f"<p>{html.escape(tuned.reason)}</p>",
        _table(header, rows, bold=winner),
        _warnings(tuned.warnings),
        _image(lambda: plot_race(tuned), "the race: held-out loss by round"),
    )
