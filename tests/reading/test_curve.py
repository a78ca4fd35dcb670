"""Reading a curve (lrfinder/_reading/_curve.py): the errors and warnings say what went wrong
and what to change, by why the test stopped."""

from __future__ import annotations

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderWarning, NoSuggestionError, RangeTestResult


def _truncated(n: int, stop_reason: str, *, falling: bool, seed: int = 0) -> RangeTestResult:
    """The first ``n`` steps of a 100-step sweep from 1e-7 to 10, ended by ``stop_reason``:
    falling steadily (with noise) to the last step, or not yet falling at all (the rates were
    too small to move the weights: the loss creeps up by a hair, lowest at the first step)."""
    lrs = np.logspace(-7, 1, 100)[:n]
    if falling:
        losses = np.linspace(2.3, 1.3, n) + 0.01 * np.random.default_rng(seed).standard_normal(n)
    else:
        losses = 2.3 + 1e-5 * np.arange(n)
    settings = {"start_lr": 1e-7, "end_lr": 10.0, "num_steps": 100}
    return RangeTestResult(lrs=lrs, losses=losses, stop_reason=stop_reason, settings=settings)


def test_data_running_out_before_the_loss_fell_says_so_and_how_to_fix_it() -> None:
    short = _truncated(29, "data_exhausted", falling=False)
    for method in ("fall", "valley", "minimum"):
        with pytest.raises(
            NoSuggestionError,
            match=r"The loss had not fallen yet when the data ran out after 29 of 100 steps, at "
            r"1.83e-05.*pass more batches \(at least `num_steps`\), or a re-iterable loader",
        ):
            lrfinder.suggest(short, method)


def test_a_test_ended_by_the_training_loop_before_the_loss_fell_says_to_train_longer() -> None:
    with pytest.raises(
        NoSuggestionError,
        match=r"when the training loop ended the test \(e.g. `fit` ran out of epochs\) after 20 "
        r"of 100 steps.*train for more epochs or steps",
    ):
        _ = _truncated(20, "stopped", falling=False).suggestion


def test_too_few_points_from_an_early_stop_blame_the_data_not_start_lr() -> None:
    with pytest.raises(
        NoSuggestionError,
        match=r"Too few points: the data ran out after 3 of 100 steps.*more batches",
    ):
        _ = _truncated(3, "data_exhausted", falling=True).suggestion


def test_a_curve_cut_short_while_falling_warns_with_the_fix_for_why_it_stopped() -> None:
    with pytest.warns(LRFinderWarning, match=r"still falling when the training loop ended") as w:
        s = _truncated(20, "stopped", falling=True).suggestion
    assert "more epochs" in str(w[0].message) and "raise `num_steps`" not in str(w[0].message)
    assert all("raise `num_steps`" not in x for x in s.warnings)
    with pytest.warns(LRFinderWarning, match=r"still falling when the data ran out.*loader"):
        _ = _truncated(40, "data_exhausted", falling=True).suggestion


def test_few_points_from_an_early_stop_advise_more_data_not_num_steps() -> None:
    # falls, then rises a little (not diverged) before fit ends: the turn is seen, the points few
    lrs = np.logspace(-7, 1, 100)[:20]
    losses = np.concatenate([np.linspace(2.3, 1.0, 14), np.linspace(1.0, 1.3, 6)])
    result = RangeTestResult(
        lrs=lrs, losses=losses, stop_reason="stopped", settings={"num_steps": 100}
    )
    with pytest.warns(LRFinderWarning, match=r"Few points: 20 finite losses.*as the training loop"):
        s = result.suggest("minimum")
    assert "train for more epochs" in s.warnings[0]


def test_nan_at_the_first_step_says_so_instead_of_too_few_points() -> None:
    for bad in (np.nan, np.inf):
        first = RangeTestResult(
            lrs=np.array([1e-7]), losses=np.array([bad]), stop_reason="nonfinite"
        )
        with pytest.raises(
            NoSuggestionError,
            match=rf"The loss was {'NaN' if np.isnan(bad) else 'inf'} from the first step \(at "
            r"1e-07\).*lower `start_lr`, and check the data and the model",
        ):
            _ = first.suggestion


def test_nan_from_the_first_step_of_find_lr() -> None:
    result = lrfinder.find_lr(lambda lr: float("nan"), num_steps=10, progress=False)
    with pytest.raises(NoSuggestionError, match="The loss was NaN from the first step"):
        _ = result.suggestion


def _suggestions(result: RangeTestResult) -> dict[str, object]:
    from lrfinder._core._suggestion import quiet_suggest_all

    return {
        name: s if isinstance(s, lrfinder.Suggestion) else str(s)
        for name, s in quiet_suggest_all(result).items()
    }


def _real_curves() -> list[RangeTestResult]:
    """The range tests of the quality benchmark's setups (real training runs, in git)."""
    import json
    from pathlib import Path

    folder = Path(__file__).parents[2] / "benchmarks" / "quality" / "results" / "curves"
    out = []
    for path in sorted(folder.glob("*.json")):
        for value in json.loads(path.read_text()).values():
            if isinstance(value, dict) and value.get("format") == "lrfinder.RangeTestResult":
                out.append(RangeTestResult.from_dict(value))
    return out


def _assert_same_reading(fast: RangeTestResult, slow: RangeTestResult) -> None:
    from _reference_reading import slow_reading
    from lrfinder._reading._curve import read_curve

    got = _suggestions(fast)
    with slow_reading():
        expected = _suggestions(slow)
        try:
            slow_curve = read_curve(slow)
        except NoSuggestionError:
            slow_curve = None
    assert got.keys() == expected.keys()
    for name, value in got.items():
        want = expected[name]
        if isinstance(value, str):
            assert value == want, name
            continue
        assert isinstance(want, lrfinder.Suggestion), (name, want)
        assert (value.index, value.method, value.reason, value.warnings) == (
            want.index,
            want.method,
            want.reason,
            want.warnings,
        ), name
        assert (value.lr, value.low, value.high) == pytest.approx(
            (want.lr, want.low, want.high), rel=1e-9
        ), name
        if want.confidence is None:
            assert value.confidence is None, name
        else:
            assert value.confidence == pytest.approx(want.confidence, rel=1e-9, abs=1e-12), name
    if slow_curve is not None:
        curve = read_curve(fast)
        np.testing.assert_allclose(curve.smooth, slow_curve.smooth, rtol=1e-11, atol=1e-13)
        assert (curve.argmin, curve.warnings) == (slow_curve.argmin, slow_curve.warnings)
        assert curve.noise == pytest.approx(slow_curve.noise, rel=1e-9, abs=1e-15)


def test_every_rule_reads_random_curves_as_the_loops_did() -> None:
    from _reference_reading import random_curves

    for lrs, losses in random_curves(90, seed=11, plateaus=False):
        _assert_same_reading(
            RangeTestResult(lrs=lrs, losses=losses), RangeTestResult(lrs=lrs, losses=losses)
        )


def test_every_rule_reads_real_curves_as_the_loops_did() -> None:
    curves = _real_curves()
    assert len(curves) > 100
    for result in curves[::3]:
        copy = RangeTestResult.from_dict(result.to_dict())
        _assert_same_reading(result, copy)


def test_a_curve_is_read_once_for_every_rule_and_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    from _curves import sigmoid_curve
    from lrfinder._reading import _curve

    reads = []
    real_read = _curve._read

    def counted(result: RangeTestResult) -> object:
        reads.append(result)
        return real_read(result)

    monkeypatch.setattr(_curve, "_read", counted)
    result = sigmoid_curve(noise=0.02)
    lrfinder.suggest_all(result)
    for name in lrfinder.methods():
        lrfinder.suggest(result, name)
    assert len(reads) == 1
    pytest.importorskip("matplotlib")
    lrfinder.plot_result(result, methods=list(lrfinder.methods()))
    assert len(reads) == 1
    other = sigmoid_curve(noise=0.02)  # equal in value, another result: read again
    lrfinder.suggest(other)
    assert len(reads) == 2


def test_a_failed_reading_is_remembered_and_raised_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lrfinder._reading import _curve

    calls = []
    real_read = _curve._read
    monkeypatch.setattr(_curve, "_read", lambda r: calls.append(r) or real_read(r))
    flat = RangeTestResult(lrs=np.logspace(-5, 0, 50), losses=np.ones(50))
    for _ in range(3):
        with pytest.raises(NoSuggestionError, match="The curve is flat"):
            _curve.read_curve(flat)
    assert len(calls) == 1


def test_a_reading_goes_with_its_result() -> None:
    import gc
    import weakref

    from _curves import sigmoid_curve
    from lrfinder._reading import _curve

    result = sigmoid_curve()
    curve = _curve.read_curve(result)
    key, alive = id(result), weakref.ref(result)
    assert _curve._READS[key][1] is curve
    assert not curve.smooth.flags.writeable  # shared by every rule: nobody may change it
    del result
    gc.collect()
    assert alive() is None and key not in _curve._READS
    flat = RangeTestResult(lrs=np.logspace(-5, 0, 50), losses=np.ones(50))
    with pytest.raises(NoSuggestionError):
        _curve.read_curve(flat)
    key, alive = id(flat), weakref.ref(flat)
    assert key in _curve._READS
    del flat
    gc.collect()
    # The reason kept (without its traceback) does not keep the result alive.
    assert alive() is None and key not in _curve._READS


def _nan_at(steps: list[int]) -> RangeTestResult:
    lrs = np.logspace(-7, 1, 100)
    x = np.log10(lrs)
    losses = 0.3 + 2.0 / (1.0 + np.exp(3.0 * (x + 3.0))) + np.where(lrs > 0.3, lrs, 0.0)
    losses[steps] = [np.nan, np.inf, np.nan][: len(steps)]
    return RangeTestResult(lrs=lrs, losses=losses)


def test_an_imported_curve_with_non_finite_points_inside_is_read_on_its_finite_points() -> None:
    holed, whole = _nan_at([5, 12, 17]), _nan_at([])
    with pytest.warns(
        LRFinderWarning,
        match=r"3 non-finite loss\(es\) inside the curve \(at step 5, 12, 17\) were left out and its 97 finite points read",
    ):
        s = lrfinder.suggest(holed)
    # Read past the holes, not cut at the first one (which left 5 points and 1e-07).
    assert s.lr == pytest.approx(lrfinder.suggest(whole).lr, rel=0.1)
    assert s.lr > 1e-5


def test_a_recorded_test_still_ends_at_its_first_non_finite_loss() -> None:
    run = _nan_at([])
    cut = RangeTestResult(
        lrs=run.lrs[:61], losses=np.append(run.losses[:60], np.nan), stop_reason="nonfinite"
    )
    s = lrfinder.suggest(cut)  # no warning: warnings are errors in the suite
    assert not any("non-finite" in w for w in s.warnings)
    head = RangeTestResult(lrs=run.lrs[:60], losses=run.losses[:60], stop_reason="diverged")
    assert s.lr == lrfinder.suggest(head).lr


def test_a_noise_free_nearly_flat_curve_is_flat() -> None:
    k = np.arange(100)
    with pytest.raises(NoSuggestionError, match=r"The curve is flat"):
        lrfinder.suggest((np.logspace(-7, 1, 100), 1.2 - 1e-9 * k))
    # A noise-free fall of 0.1% is a fall, not rounding.
    with pytest.warns(LRFinderWarning, match="still falling at `end_lr`"):
        lrfinder.suggest((np.logspace(-7, 1, 100), 1.2 - 1.2e-5 * k), "minimum")


@pytest.mark.parametrize("log_lrs_first", [False, True], ids=["cold", "log-rates-read"])
def test_the_falling_slope_is_the_full_curves_slope_to_the_lowest_point(
    log_lrs_first: bool,
) -> None:
    from _reference_reading import random_curves
    from lrfinder._reading._curve import read_curve

    checked = 0
    for lrs, losses in random_curves(40, seed=3, plateaus=False):
        try:
            curve = read_curve(RangeTestResult(lrs=lrs, losses=losses))
        except NoSuggestionError:  # a curve that cannot be read has no slope to compare
            continue
        checked += 1
        if log_lrs_first:
            assert curve.log_lrs is not None  # a rule such as `steepest` read it first
        full = np.gradient(curve.smooth, np.log10(curve.lrs))
        end = max(curve.argmin, 1)
        # The same values; numpy takes its equal-spacing formula where a short prefix's
        # spacings happen to be equal, which can move the last bit.
        np.testing.assert_allclose(curve.falling_slope, full[: end + 1], rtol=1e-12, atol=0)
    assert checked >= 20
