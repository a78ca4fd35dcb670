"""The notebook HTML of results: the summary, the table of suggestions, the plot inline."""

from __future__ import annotations

import base64
import math
import re
import sys
from html import escape

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import lrfinder  # noqa: E402
from _curves import sigmoid_curve  # noqa: E402
from lrfinder._core._suggestion import quiet_suggest  # noqa: E402
from lrfinder._plotting._notebook import NO_MATPLOTLIB  # noqa: E402


def _images(html: str) -> list[bytes]:
    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    ]


def _rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [
        re.findall(r"<td[^>]*>(?:<b>)?(.*?)(?:</b>)?</td>", row)
        for row in body.split("</tr>")
        if row
    ]


def test_a_result_shows_every_suggestion_and_its_plot() -> None:
    curve = sigmoid_curve()
    html = curve._repr_html_()
    assert html is not None
    assert "RangeTestResult: 100 steps, 1e-06 to 10, stopped: completed" in html
    rows = _rows(html)
    assert rows[0][0] == "fall (default)"  # the default first, in bold
    assert "<b>fall (default)</b>" in html
    assert {r[0] for r in rows[1:]} == set(lrfinder.methods()) - {"fall"}
    assert rows[0][1] == f"{lrfinder.suggest(curve).lr:.3g}"
    (png,) = _images(html)
    assert png[:4] == b"\x89PNG"
    assert "array(" not in html and len(html) < 200_000


def test_a_result_without_suggestion_says_why_in_its_table() -> None:
    flat = lrfinder.RangeTestResult(lrs=np.logspace(-5, 0, 40), losses=np.ones(40))
    html = flat._repr_html_()
    assert html is not None
    assert all(r[1] == "-" and r[4].startswith("no suggestion: ") for r in _rows(html))


def test_the_warnings_of_an_untrusted_curve_are_listed() -> None:
    short = sigmoid_curve(n=20)
    s = quiet_suggest(short)
    assert s.warnings
    html = short._repr_html_()
    assert html is not None and "not to be trusted" in html
    assert all(f"<li>{escape(w)}</li>" in html for w in s.warnings)


def test_a_suggestion_shows_its_rate_range_confidence_and_reason() -> None:
    s = lrfinder.suggest(sigmoid_curve())
    html = s._repr_html_()
    assert html is not None
    ((lr, method, span, confidence, reason),) = _rows(html)
    assert (lr, method) == (f"{s.lr:.3g}", "fall")
    assert span == f"{s.low:.3g}..{s.high:.3g}" and confidence == f"{s.confidence:.2f}"
    assert reason.startswith(s.reason[:20])


def test_a_schedule_choice_shows_its_bounds_rules_and_plot() -> None:
    choice = lrfinder.schedule_from(sigmoid_curve(), "triangular2", total_steps=500)
    html = choice._repr_html_()
    assert html is not None
    assert "ScheduleChoice: triangular2 over 500 steps" in html
    assert {r[0] for r in _rows(html)} == {"base_lr", "max_lr"}
    assert len(_images(html)) == 1
    _fig, ax = choice.plot()
    assert len(ax.get_lines()[0].get_xdata()) == 500


def _race() -> lrfinder.TuneResult:
    def trial(lr: float, steps: int) -> float:
        return math.nan if lr > 0.05 else float(np.log10(lr / 3e-3) ** 2 + 10 / steps)

    return lrfinder.tune_lr(trial, result=sigmoid_curve(), budget_steps=100, progress=False)


def test_a_race_shows_every_rate_by_round_the_winner_in_bold_and_its_plot() -> None:
    tuned = _race()
    html = tuned._repr_html_()
    assert html is not None
    assert f"TuneResult: {tuned.lr:.3g}, confidence {tuned.confidence:.2f}" in html
    rows = _rows(html)
    assert [r[0] for r in rows] == [f"{lr:.3g}" for lr in tuned.rates]
    assert f"<b>{tuned.lr:.3g}</b>" in html
    assert all(len(r) == 1 + len(tuned.rounds) for r in rows)
    assert any("diverged" in r for r in rows)  # the rates above 0.05 returned NaN
    assert len(_images(html)) == 1
    assert repr(tuned).startswith(f"TuneResult(lr={tuned.lr:.3g}, rates={len(tuned.rates)}")
    assert len(tuned.plot().figure.axes) == 2


def test_without_matplotlib_the_html_says_how_to_get_the_plot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    html = sigmoid_curve()._repr_html_()
    assert html is not None and NO_MATPLOTLIB.replace("'", "&#x27;") in html
    assert not _images(html) and "fall (default)" in html
