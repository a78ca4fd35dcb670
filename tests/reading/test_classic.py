"""The classic rules (lrfinder/_reading/_classic.py) against the slow loops they replaced."""

from __future__ import annotations

import numpy as np
import pytest

import lrfinder
from _reference_reading import loop_slide_index, quadratic_lds, quadratic_longest_fall
from lrfinder import NoSuggestionError, RangeTestResult
from lrfinder._core._result import DEFAULT_SMOOTH_BETA
from lrfinder._core._smoothing import ema
from lrfinder._reading._classic import _longest_fall
from lrfinder._reading._curve import read_curve


def _sequences(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in range(count):
        n = int(rng.integers(1, 300))
        kind = t % 5
        if kind == 0:
            seq = rng.normal(size=n)
        elif kind == 1:
            seq = rng.integers(0, 4, size=n).astype(float)  # many ties
        elif kind == 2:
            seq = np.cumsum(rng.normal(size=n))
        elif kind == 3:
            seq = -np.arange(n) + rng.normal(scale=3.0, size=n)  # a noisy fall
        else:
            seq = np.sort(rng.normal(size=n))[::-1].copy()  # strictly falling, with repeats cut
            seq[rng.integers(0, n, size=n // 4)] = seq[0]
        out.append(seq)
    return out


def test_longest_fall_equals_the_quadratic_algorithm_on_many_sequences() -> None:
    for seq in _sequences(600, seed=3):
        assert _longest_fall(seq) == quadratic_longest_fall(seq), seq


def test_quadratic_reference_counts_strict_falls() -> None:
    # The reference itself, on a case worked by hand: 3 > 2 > 1 (the tie at 2 does not count).
    assert quadratic_lds(np.array([3.0, 2.0, 2.0, 5.0, 1.0])).tolist() == [1, 2, 2, 1, 3]
    assert _longest_fall(np.array([3.0, 2.0, 2.0, 5.0, 1.0])) == (4, 3)


def test_valley_equals_the_quadratic_algorithm_on_many_curves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from _reference_reading import random_curves
    from lrfinder._reading import _classic

    compared = 0
    for lrs, losses in random_curves(150, seed=5):
        fast = _valley_or_reason(RangeTestResult(lrs=lrs, losses=losses))
        with monkeypatch.context() as patch:
            patch.setattr(_classic, "_longest_fall", quadratic_longest_fall)
            slow = _valley_or_reason(RangeTestResult(lrs=lrs, losses=losses))
        assert type(fast) is type(slow)
        if isinstance(fast, lrfinder.Suggestion):
            assert isinstance(slow, lrfinder.Suggestion)
            assert fast == slow
            compared += 1
        else:
            assert str(fast) == str(slow)
    assert compared > 50


def _valley_or_reason(result: RangeTestResult) -> lrfinder.Suggestion | NoSuggestionError:
    try:
        return lrfinder._core._suggestion.quiet_suggest(result, "valley")
    except NoSuggestionError as exc:
        return exc


def test_valley_reads_a_million_points() -> None:
    # 632 s with the quadratic algorithm; patience sorting reads it in about a second or less.
    rng = np.random.default_rng(0)
    lrs = np.logspace(-7, 1, 10**6)
    losses = 2.0 - np.tanh(np.log10(lrs) + 3) + 0.03 * rng.standard_normal(lrs.size)
    s = lrfinder._core._suggestion.quiet_suggest(RangeTestResult(lrs=lrs, losses=losses), "valley")
    assert 1e-7 <= s.low < s.lr < s.high <= 10


@pytest.mark.parametrize("threshold", [0.0, 0.005, 0.05])
def test_slide_equals_the_walk_from_the_end(threshold: float) -> None:
    from _reference_reading import random_curves

    checked = 0
    for lrs, losses in random_curves(60, seed=8):
        result = RangeTestResult(lrs=lrs, losses=losses)
        try:
            curve = read_curve(result)
        except NoSuggestionError:
            continue
        skip = result.steps // 10  # no planned num_steps in the settings: the steps taken
        # The package's average (tested against the loop elsewhere): on exact plateaus a
        # threshold of 0 tells rounding apart, so both walks must read the same bits.
        tail = min(curve.raw.size, result.steps - 5)  # fastai leaves out the last 5 points
        smooth = ema(curve.raw, DEFAULT_SMOOTH_BETA)[skip:tail]
        gap = max(2, round(0.15 * result.steps))
        if gap >= smooth.size:
            continue
        walked = loop_slide_index(smooth, gap, threshold / curve.scale)
        expected = None if walked is None else skip + walked
        try:
            got: int | None = lrfinder._core._suggestion.quiet_suggest(
                result, "slide", threshold=threshold
            ).index
        except NoSuggestionError as exc:
            assert "no stretch where the slope settles" in str(exc) or "outside" in str(exc)
            got = None if "settles" in str(exc) else expected
        assert got == expected
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("method", ["steepest", "sma_derivative"])
def test_a_noisy_first_loss_is_not_the_fastest_fall(method: str) -> None:
    # torch-lr-finder, Surmenok's finder and fastai's lr_find all skip the first tenth: the
    # first loss, before training moved it, can sit well above the flat start.
    lrs = np.logspace(-7, 1, 100)
    losses = 0.3 + 2.0 / (1.0 + (lrs / 1e-3) ** 1.3) + (lrs / 0.05) ** 2
    losses[0] *= 1.15
    s = lrfinder._core._suggestion.quiet_suggest(
        RangeTestResult(lrs=lrs, losses=losses, settings={"num_steps": 100}), method
    )
    assert s.index >= 10
    assert abs(np.log10(s.lr) - np.log10(1e-3)) < 1.0  # inside the fall


def test_steepest_reads_a_linear_sweep_against_the_rate() -> None:
    # Lightning's own check: sin over a linear grid falls fastest at pi (against log(rate) the
    # fastest fall sits at 3.43).
    lrs = np.linspace(0.05, 2 * np.pi, 400)
    linear = RangeTestResult(lrs=lrs, losses=np.sin(lrs) + 2.0, settings={"mode": "linear"})
    s = lrfinder._core._suggestion.quiet_suggest(linear, "steepest")
    assert abs(s.lr - np.pi) < 0.05 and "per unit of rate" in s.reason
    on_log = RangeTestResult(lrs=lrs, losses=np.sin(lrs) + 2.0)  # no mode: the log axis
    assert abs(lrfinder._core._suggestion.quiet_suggest(on_log, "steepest").lr - 3.43) < 0.05


def test_slide_on_a_curve_too_short_once_its_ends_are_left_out_says_so() -> None:
    lrs = np.logspace(-7, 1, 24)
    losses = 0.3 + 2.0 / (1.0 + (lrs / 1e-3) ** 1.3)
    with pytest.raises(NoSuggestionError, match=r"between the first 2 and the last 5 .* has 17"):
        lrfinder._core._suggestion.quiet_suggest(
            RangeTestResult(lrs=lrs, losses=losses), "slide", lr_diff=17
        )
