import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrfinder
import lrfinder._core._registry as suggest_module
from _curves import sigmoid_curve
from lrfinder import (
    LRFinderError,
    LRFinderWarning,
    NoSuggestionError,
    RangeTestResult,
    Suggestion,
    suggest,
)
from lrfinder._reading._curve import read_curve


def decades(a: float, b: float) -> float:
    return abs(float(np.log10(a / b)))


@pytest.mark.parametrize("centre", [-4.0, -2.5, -1.5])
@pytest.mark.parametrize("method", ["steepest", "sma_derivative"])
def test_fastest_descent_is_found(centre: float, method: str) -> None:
    # The sigmoid falls fastest (against log rate, and per step of an exponential sweep) at 10**centre.
    s = suggest(sigmoid_curve(centre=centre), method)
    assert decades(s.lr, 10**centre) < 0.15
    assert s.low <= s.lr <= s.high
    assert s.method == method and s.reason


@pytest.mark.parametrize("method", ["steepest", "sma_derivative"])
def test_fastest_descent_survives_noise(method: str) -> None:
    s = suggest(sigmoid_curve(centre=-3.0, noise=0.03, seed=1), method)
    assert decades(s.lr, 1e-3) < 0.35


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_minimum_is_a_tenth_of_the_lowest_point(noise: float) -> None:
    lrs = np.logspace(-6, 0, 100)
    losses = 1.0 + (np.log10(lrs) + 2.0) ** 2 / 4  # lowest at 1e-2
    losses += noise * np.random.default_rng(0).standard_normal(100)
    curve = RangeTestResult(lrs=lrs, losses=losses)
    s = suggest(curve, "minimum")
    assert decades(s.lr, 1e-3) < (0.05 if noise == 0 else 0.25)
    assert s.low <= s.lr <= s.high
    assert curve.lrs[s.index] <= s.lr < curve.lrs[s.index + 1]
    assert suggest(curve, "minimum", divisor=1.0).lr == pytest.approx(s.lr * 10)


# The default method (`fall`) is tested in test_suggest_default.py.


def reference_valley(losses: np.ndarray) -> int:
    # fastai's valley, written as in fastai (double loop).
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_valley_matches_fastai(seed: int) -> None:
    curve = sigmoid_curve(centre=-2.5, noise=0.05, seed=seed)
    smooth = read_curve(curve).smooth
    s = suggest(curve, "valley")
    assert s.index == reference_valley(smooth)
    assert s.low < s.lr < s.high


def fastai_lr_find_slide(
    lrs: np.ndarray, raw: np.ndarray, num_it: int, lr_diff: int = 15, thresh: float = 0.005
) -> float:
    """fastai's slide rule as its lr_find applies it, written out from fastai: the recorder's
    smoothed loss (a debiased moving average, beta 0.98), the first num_it // 10 points and the
    last 5 left out, then the walk left from the end on np.gradient."""
    val, smooth = 0.0, []
    for count, loss in enumerate(raw, start=1):
        val = 0.98 * val + 0.02 * loss
        smooth.append(val / (1 - 0.98**count))
    lrs, losses = lrs[num_it // 10 : -5], np.array(smooth)[num_it // 10 : -5]
    loss_grad = np.gradient(losses)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while l_idx >= -len(losses) and abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh:
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr)


def textbook_run(loss: object, num_steps: int = 100) -> RangeTestResult:
    """A range test recorded by lrfinder's own loop, with fastai's smoothing factor."""
    rt = lrfinder.RangeTest(start_lr=1e-7, end_lr=10, num_steps=num_steps, smooth_beta=0.98)
    while not rt.done:
        rt.record(loss(rt.lr))  # type: ignore[operator]
    return rt.result()


def _textbook(lr: float) -> float:
    # Flat at 2.3, falls to 0.3 around 1e-3, blows up past 0.05.
    return 0.3 + 2.0 / (1.0 + (lr / 1e-3) ** 1.3) + (lr / 0.05) ** 2


def _textbook_noisy(seed: int) -> object:
    rng = np.random.default_rng(seed)
    return lambda lr: _textbook(lr) * (1 + 0.02 * rng.standard_normal())


@pytest.mark.parametrize("noise", [None, 3, 4])
def test_slide_matches_fastai_on_the_same_run(noise: int | None) -> None:
    run = textbook_run(_textbook if noise is None else _textbook_noisy(noise))
    assert run.stop_reason == "diverged"
    s = suggest(run, "slide")
    expected = fastai_lr_find_slide(run.lrs, run.losses, 100)
    assert s.lr == expected
    # Below the blow-up and at the foot of the fall, not at its end (the clipped reading's
    # flat ceiling stopped the walk at once, near the blow-up).
    assert 1e-4 < s.lr < 1e-2


def test_slide_whose_slopes_never_agree_is_no_suggestion() -> None:
    # A parabola's slope changes by the same amount every step: no two slopes 15 steps apart agree.
    k = np.arange(100.0)
    curve = RangeTestResult(lrs=np.logspace(-7, 1, 100), losses=5.0 - 4e-4 * k**2)
    with pytest.raises(NoSuggestionError, match=r"`slide` found no stretch where the slope"):
        suggest(curve, "slide")


def test_still_falling_at_end_lr_warns() -> None:
    lrs = np.logspace(-5, -1, 50)
    with pytest.warns(LRFinderWarning, match="still falling at `end_lr`"):
        s = suggest((lrs, np.linspace(3, 1, 50)), "steepest")
    assert any("still falling" in w for w in s.warnings)


def test_nan_tail_is_ignored(curve: RangeTestResult) -> None:
    losses = curve.losses.copy()
    losses[80:] = np.nan
    cut = RangeTestResult(lrs=curve.lrs, losses=losses)
    assert (
        suggest(cut, "steepest").lr
        == suggest(RangeTestResult(lrs=curve.lrs[:80], losses=curve.losses[:80]), "steepest").lr
    )


@pytest.mark.parametrize(
    ("losses", "match"),
    [
        (
            [2.0, 1.0, float("nan")],
            r"Too few points: 2 finite loss\(es\).*Lower `start_lr`",
        ),
        ([1.0] * 40, r"The curve is flat.*Raise `end_lr`"),
        (list(np.linspace(1, 5, 40)), r"The loss never fell.*Lower `start_lr`"),
    ],
)
def test_unusable_curves_say_why(losses: list[float], match: str) -> None:
    curve = RangeTestResult(lrs=np.logspace(-5, 0, len(losses)), losses=losses)
    for method in lrfinder.methods():
        with pytest.raises(NoSuggestionError, match=match):
            suggest(curve, method)


def test_unknown_method_and_registry(
    monkeypatch: pytest.MonkeyPatch, curve: RangeTestResult
) -> None:
    with pytest.raises(
        LRFinderError, match=r"Unknown suggestion method 'best'. Choose one of: minimum"
    ):
        suggest(curve, "best")
    monkeypatch.setattr(suggest_module, "_REGISTRY", dict(suggest_module._REGISTRY))

    @lrfinder.register("first")
    def first(result: RangeTestResult) -> Suggestion:
        return Suggestion(
            lr=float(result.lrs[0]),
            index=0,
            method="first",
            reason="test",
            low=float(result.lrs[0]),
            high=float(result.lrs[0]),
        )

    assert suggest(curve, "first").lr == curve.lrs[0]
    assert "first" in lrfinder.methods()
    lrfinder.register("first")(first)  # the same function again (a notebook cell re-run): quiet
    with pytest.raises(LRFinderError, match=r"already registered"):
        lrfinder.register("first")(lambda result: first(result))


def test_suggest_all_reports_every_method(curve: RangeTestResult) -> None:
    out = lrfinder.suggest_all(curve)
    assert set(out) == set(lrfinder.methods())
    assert all(isinstance(v, Suggestion) for v in out.values())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(-1e3, 1e3), st.just(float("nan")), st.just(float("inf"))),
        min_size=1,
        max_size=120,
    ),
    st.sampled_from(["exp", "linear"]),
)
def test_never_crashes_on_arbitrary_curves(losses: list[float], spacing: str) -> None:
    n = len(losses)
    lrs = np.logspace(-6, 1, n) if spacing == "exp" else np.linspace(1e-3, 1.0, n)
    curve = RangeTestResult(lrs=lrs, losses=losses)
    for method in lrfinder.methods():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LRFinderWarning)
            try:
                s = suggest(curve, method)
            except NoSuggestionError as exc:
                assert str(exc)
                continue
        # a Python warning exactly when the suggestion carries warnings
        assert len([w for w in caught if w.category is LRFinderWarning]) == bool(s.warnings)
        assert lrs[0] <= s.lr <= lrs[-1]
        assert lrs[0] <= s.low <= s.lr <= s.high <= lrs[-1]
        assert 0 <= s.index < n


def test_the_rules_check_their_options_up_front() -> None:
    curve = sigmoid_curve()
    for bad in (-1, 0, 1.5, True):
        with pytest.raises(
            lrfinder.LRFinderError, match=r"`lr_diff` must be an integer of at least 1"
        ):
            lrfinder.suggest(curve, "slide", lr_diff=bad)
    with pytest.raises(
        lrfinder.LRFinderError, match=r"`threshold` must be a finite number at least 0"
    ):
        lrfinder.suggest(curve, "slide", threshold=-0.1)
    with pytest.raises(
        lrfinder.LRFinderError, match=r"`divisor` must be a finite number at least 1"
    ):
        lrfinder.suggest(curve, "minimum", divisor=0.5)
    with pytest.raises(lrfinder.LRFinderError, match=r"`window` must be an integer of at least 1"):
        lrfinder.suggest(curve, "sma_derivative", window=0)
    assert lrfinder.suggest(curve, "minimum", divisor=np.float32(10)).lr > 0
