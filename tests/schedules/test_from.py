"""schedule_from: bounds read off curves with a known answer, and the rule behind each."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrfinder
from lrfinder import LRFinderError, NoSuggestionError, schedules


def curve(start: float = -5.0, fall_from: float = -3.0, bottom: float = -1.0) -> tuple:
    """Flat loss of 2 up to 10**fall_from, a fall linear in log10(lr) to 0.5 at 10**bottom,
    then a rise: the loss starts falling at 10**fall_from and stops at 10**bottom."""
    x = np.linspace(start, 0.0, 250)
    loss = np.where(x < fall_from, 2.0, 2.0 - 1.5 * (x - fall_from) / (bottom - fall_from))
    loss = np.where(x > bottom, 0.5 + 3.0 * (x - bottom), loss)
    noise = 0.002 * np.random.default_rng(0).standard_normal(x.size)
    return 10.0**x, loss + noise


@pytest.mark.parametrize("policy", ["triangular", "triangular2", "exp_range"])
def test_cyclic_bounds_where_the_loss_starts_and_stops_falling(policy: str) -> None:
    choice = lrfinder.schedule_from(curve(), policy, total_steps=4000)
    lo, hi = choice.bounds["base_lr"], choice.bounds["max_lr"]
    # 10% of the fall is done at log10(lr) = -3 + 0.1 * 2 = -2.8; the bottom is at -1.
    # Centred smoothing blurs the corners a little: allow 0.15 decade.
    assert abs(np.log10(lo) - (-2.8)) < 0.15
    assert abs(np.log10(hi) - (-1.0)) < 0.15
    assert "starts falling" in choice.rules["base_lr"]
    assert "stops falling" in choice.rules["max_lr"]
    assert choice.policy == policy and choice.momentum is None
    # One full cycle over training by default: up for 2000 steps, down for 2000.
    want = schedules.cyclic(lo, hi, step_size=2000, mode=policy)
    assert [choice(i) for i in range(0, 4000, 37)] == [want(i) for i in range(0, 4000, 37)]


def test_cyclic_falls_back_to_a_quarter_of_max_lr() -> None:
    # The sweep starts where the loss is already falling, so its start cannot be seen.
    choice = lrfinder.schedule_from(curve(start=-2.9), "triangular", total_steps=100, step_size=10)
    assert choice.bounds["base_lr"] == choice.bounds["max_lr"] / 4
    assert "max_lr / 4" in choice.rules["base_lr"]
    assert choice(10) == pytest.approx(choice.bounds["max_lr"], rel=1e-12)


def test_one_cycle_peaks_at_the_suggestion_with_its_momentum_cycle() -> None:
    pair = curve()
    result = lrfinder.RangeTestResult(lrs=pair[0], losses=pair[1])
    # The peak is the default suggestion for a one-cycle peak, not for a constant rate.
    s = lrfinder.suggest(result, for_schedule="onecycle")
    assert s.lr != lrfinder.suggest(result).lr
    choice = lrfinder.schedule_from(pair, "one_cycle", total_steps=1000, pct_start=0.25)
    assert choice.bounds == {"max_lr": s.lr}
    assert f"`{s.method}`" in choice.rules["max_lr"]
    lr = schedules.one_cycle(s.lr, total_steps=1000, pct_start=0.25)
    momentum = schedules.one_cycle_momentum(total_steps=1000, pct_start=0.25)
    assert choice.momentum is not None
    np.testing.assert_array_equal(schedules.tabulate(choice, 1000), schedules.tabulate(lr, 1000))
    np.testing.assert_array_equal(
        schedules.tabulate(choice.momentum, 1000), schedules.tabulate(momentum, 1000)
    )
    assert str(choice).startswith("one_cycle over 1000 steps\n  max_lr = ")


def test_one_cycle_with_a_method_that_has_one_rate_for_every_use() -> None:
    pair = curve()
    choice = lrfinder.schedule_from(pair, "one_cycle", total_steps=100, method="steepest")
    assert choice.bounds == {"max_lr": lrfinder.suggest(pair, "steepest").lr}


def test_method_picks_the_suggestion() -> None:
    pair = curve()
    steepest = lrfinder.suggest(pair, "steepest")
    choice = lrfinder.schedule_from(pair, "cosine", total_steps=500, method="steepest")
    assert choice.bounds == {"lr": steepest.lr}
    assert choice(0) == steepest.lr and choice(500) == 0.0
    assert lrfinder.schedule_from(pair, "constant", total_steps=5)(4) == lrfinder.suggest(pair).lr
    # A method that gives one rate for every use gives it for the one-cycle peak too.
    valley = lrfinder.schedule_from(pair, "one_cycle", total_steps=50, method="valley")
    assert valley.bounds == {"max_lr": lrfinder.suggest(pair, "valley").lr}


def test_bad_input() -> None:
    with pytest.raises(LRFinderError, match=r"`policy` must be one of .* Received: policy='sgdr'"):
        lrfinder.schedule_from(curve(), "sgdr", total_steps=10)
    with pytest.raises(LRFinderError, match=r"Received: total_steps=0"):
        lrfinder.schedule_from(curve(), "one_cycle", total_steps=0)
    with pytest.raises(LRFinderError, match=r"`constant` takes no options. Received: \['gamma'\]"):
        lrfinder.schedule_from(curve(), "constant", total_steps=10, gamma=0.5)
    flat = (np.logspace(-5, 0, 50), np.ones(50))
    with pytest.raises(NoSuggestionError, match="flat"):
        lrfinder.schedule_from(flat, "triangular", total_steps=10)


@settings(max_examples=60, deadline=None)
@given(
    losses=st.lists(
        st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=1, max_size=80
    ),
    policy=st.sampled_from(["one_cycle", "triangular", "exp_range", "cosine"]),
)
def test_any_curve_gives_bounds_inside_the_sweep_or_a_typed_failure(
    losses: list[float], policy: str
) -> None:
    lrs = np.logspace(-6, 1, len(losses))
    try:
        choice = lrfinder.schedule_from((lrs, losses), policy, total_steps=50)
    except NoSuggestionError:
        return
    for name, value in choice.bounds.items():
        assert 0 < value <= lrs[-1], name
        assert choice.rules[name]
    if "base_lr" in choice.bounds:
        assert choice.bounds["base_lr"] < choice.bounds["max_lr"]
    assert all(np.isfinite(choice(i)) for i in range(50))
