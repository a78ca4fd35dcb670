"""Every reader of a curve, on any curve: each rule, suggest_all, schedule_from, the plots and
the save/load round trips either give an answer inside the sweep or a typed failure, never a
crash. The example count comes from the Hypothesis profile (tests/conftest.py): 2,000 in CI
(HYPOTHESIS_PROFILE=ci), the plots a fortieth of that (50), since each draws three figures."""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrfinder
from lrfinder import LRFinderWarning, NoSuggestionError, RangeTestResult, Suggestion

POLICIES = ["one_cycle", "triangular", "triangular2", "exp_range", "cosine", "constant"]

odd = st.one_of(
    st.floats(-1e3, 1e3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]),
)


@st.composite
def curves(draw: st.DrawFn) -> RangeTestResult:
    """Arbitrary losses, or a textbook fall and blow-up with noise, holes and plateaus."""
    if draw(st.booleans()):
        losses = np.array(draw(st.lists(odd, min_size=1, max_size=120)), dtype=float)
    else:
        n = draw(st.integers(5, 150))
        x = np.linspace(-7, 1, n)
        centre = draw(st.floats(-6, 0))
        curve = (
            0.3
            + 2.0 / (1.0 + np.exp(3.0 * (x - centre)))
            + np.exp(draw(st.floats(0.5, 5)) * (x - draw(st.floats(-3, 1))))
        )
        noise = draw(st.floats(0, 0.5))
        seed = draw(st.integers(0, 2**16))
        losses = curve * draw(st.floats(1e-6, 1e6)) + noise * np.random.default_rng(
            seed
        ).standard_normal(n)
        for i in draw(st.lists(st.integers(0, n - 1), max_size=4)):
            losses[i] = draw(st.sampled_from([math.nan, math.inf]))
    n = losses.size
    lrs = np.logspace(-7, 1, n) if draw(st.booleans()) else np.linspace(1e-4, 1.0, n)
    stop = draw(
        st.sampled_from(["completed", "diverged", "nonfinite", "data_exhausted", "stopped"])
    )
    settings = {
        "num_steps": draw(st.integers(n, 2 * n + 2)),
        "smooth_beta": draw(st.floats(0, 0.99)),
    }
    return RangeTestResult(lrs=lrs, losses=losses, stop_reason=stop, settings=settings)


def _inside(result: RangeTestResult, s: Suggestion) -> None:
    lo, hi = float(result.lrs.min()), float(result.lrs.max())
    assert math.isfinite(s.lr) and lo <= s.lr <= hi, s
    assert lo <= s.low <= s.lr <= s.high <= hi, s
    assert 0 <= s.index < result.steps, s


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(curves())
def test_every_rule_and_suggest_all_answer_inside_the_sweep_or_say_why(
    result: RangeTestResult,
) -> None:
    for method in lrfinder.methods():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LRFinderWarning)
            try:
                s = lrfinder.suggest(result, method)
            except NoSuggestionError as exc:
                assert str(exc)
                continue
        assert len([w for w in caught if w.category is LRFinderWarning]) == bool(s.warnings)
        _inside(result, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRFinderWarning)
        everything = lrfinder.suggest_all(result)
    assert set(everything) == set(lrfinder.methods())
    for answer in everything.values():
        if isinstance(answer, Suggestion):
            _inside(result, answer)
        else:
            assert isinstance(answer, NoSuggestionError) and str(answer)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(curves(), st.sampled_from(POLICIES), st.integers(10, 500))
def test_schedule_from_bounds_inside_the_sweep_or_says_why(
    result: RangeTestResult, policy: str, total_steps: int
) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LRFinderWarning)
            choice = lrfinder.schedule_from(result, policy, total_steps=total_steps)
    except NoSuggestionError as exc:
        assert str(exc)
        return
    for name, value in choice.bounds.items():
        assert 0 < value <= float(result.lrs.max()), name
    rates = [choice(i) for i in range(0, total_steps, max(1, total_steps // 20))]
    assert all(math.isfinite(r) and r >= 0 for r in rates)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(curves())
def test_json_and_csv_round_trips_give_the_same_result(result: RangeTestResult) -> None:
    assert RangeTestResult.from_dict(result.to_dict()) == result
    with tempfile.TemporaryDirectory() as folder:
        result.save(Path(folder) / "r.json")
        assert RangeTestResult.load(Path(folder) / "r.json") == result
        result.save(Path(folder) / "r.csv")  # the curve only: the rates and losses
        back = RangeTestResult.load(Path(folder) / "r.csv")
        assert np.array_equal(back.lrs, result.lrs)
        assert np.array_equal(back.losses, result.losses, equal_nan=True)


@given(curves())
def test_the_plots_draw_any_curve(result: RangeTestResult) -> None:
    pytest.importorskip("matplotlib")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRFinderWarning)
        for plot in (lrfinder.plot_loss, lrfinder.plot_derivative, lrfinder.plot_result):
            fig, _ = plot(result)
            fig.canvas.draw()  # limits and ticks are computed here


test_the_plots_draw_any_curve = settings(
    max_examples=max(settings.default.max_examples // 40, 5),
    suppress_health_check=[HealthCheck.too_slow],
)(test_the_plots_draw_any_curve)
