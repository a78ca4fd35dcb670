import math

import numpy as np
import pytest

from lrfinder import LRFinderError, RangeTest, find_lr, sweep


def run(losses, **kwargs) -> RangeTest:
    rt = RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=len(losses), **kwargs)
    for loss in losses:
        if rt.record(loss):
            break
    return rt


def test_each_loss_is_paired_with_the_rate_that_produced_it() -> None:
    seen: list[float] = []

    def step(lr: float) -> float:
        seen.append(lr)
        return 1.0 / (1.0 + len(seen))  # a falling loss, so the sweep runs to the end

    result = find_lr(step, start_lr=1e-5, end_lr=1e-1, num_steps=30, progress=False)
    assert seen[0] == 1e-5
    assert result.lrs.tolist() == seen
    np.testing.assert_array_equal(result.losses, [1.0 / (2 + i) for i in range(30)])
    np.testing.assert_allclose(result.lrs, sweep(start_lr=1e-5, end_lr=1e-1, num_steps=30))
    assert result.lrs[-1] == 1e-1
    assert result.stop_reason == "completed"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_loss_stops_at_once(bad: float) -> None:
    rt = run([2.0, 1.9, bad, 1.0, 1.0])
    assert rt.done and rt.stop_reason == "nonfinite"
    result = rt.result()
    assert result.steps == 3
    assert np.isnan(result.smoothed_losses[-1])
    assert result.losses[-1] == bad or (math.isnan(bad) and math.isnan(result.losses[-1]))


def test_divergence_stops_above_four_times_the_best() -> None:
    losses = [1.0] * 10 + [100.0] * 10
    rt = run(losses, smooth_beta=0.0)
    assert rt.stop_reason == "diverged"
    assert rt.step == 11  # the first step above 4 x best
    rt = run([1.0] * 10 + [3.9] * 10, smooth_beta=0.0)
    assert rt.stop_reason == "completed"


def test_divergence_uses_the_smoothed_loss() -> None:
    # One spike does not stop the test when the average absorbs it.
    rt = run([1.0] * 10 + [8.0] + [1.0] * 9, smooth_beta=0.9)
    assert rt.stop_reason == "completed"


def test_negative_losses_do_not_stop_a_falling_curve() -> None:
    falling = list(np.linspace(-1.0, -3.0, 20))
    assert run(falling).stop_reason == "completed"
    # The classic `loss > 4 x best` would stop here at once (-1 > -12); ours rises 3 x |best|.
    rising = [*list(np.linspace(-1.0, -3.0, 10)), -2.0, 0.0, 5.0, 9.0, 20.0, 40.0]
    rt = run(rising, smooth_beta=0.0)
    assert rt.stop_reason == "diverged"
    assert rt.result().losses[-1] == 9.0  # first point with loss - best > 3 x |best| = 9


def test_threshold_none_never_diverges_but_nan_still_stops() -> None:
    assert run([1.0, 100.0, 1e6], diverge_threshold=None).stop_reason == "completed"
    assert run([1.0, math.nan, 1.0], diverge_threshold=None).stop_reason == "nonfinite"


def test_group_rates_keep_their_ratios() -> None:
    rt = run([1.0, 0.9, 0.8], group_ratios=(1.0, 0.1, 0.0))
    result = rt.result()
    np.testing.assert_allclose(result.group_lrs[:, 1], result.lrs * 0.1, rtol=1e-15)
    assert np.all(result.group_lrs[:, 2] == 0.0)
    assert result.group_lrs.shape == (3, 3)


def test_stop_early_and_errors() -> None:
    rt = RangeTest(num_steps=10)
    with pytest.raises(LRFinderError, match="recorded no step"):
        rt.result()
    rt.record(1.0)
    rt.stop("data_exhausted")
    assert rt.result().stop_reason == "data_exhausted"
    with pytest.raises(LRFinderError, match=r"has stopped \(data_exhausted\); no more losses"):
        rt.record(1.0)
    unfinished = RangeTest(num_steps=10)
    unfinished.record(1.0)
    assert unfinished.result().stop_reason == "stopped"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"diverge_threshold": 1.0},
            r"`diverge_threshold` must be a number above 1, or None.*Received: diverge_threshold=1.0",
        ),
        ({"smooth_beta": 1.0}, r"`smooth_beta` must be in \[0, 1\). Received: smooth_beta=1.0"),
        (
            {"group_ratios": (1.0, -1.0)},
            r"`group_ratios` must be one finite, non-negative number per parameter group",
        ),
        ({"group_ratios": ()}, r"Received: group_ratios=\(\)"),
        ({"start_lr": 10.0, "end_lr": 1.0}, r"`start_lr` must be below `end_lr`"),
    ],
)
def test_bad_settings_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(LRFinderError, match=match):
        RangeTest(**kwargs)


def test_find_lr_needs_a_callable_and_stops_on_none() -> None:
    with pytest.raises(LRFinderError, match=r"`step` must be a callable.*Received: int"):
        find_lr(3, progress=False)  # type: ignore[arg-type]
    losses = iter([3.0, 2.0, 1.0])
    result = find_lr(lambda lr: next(losses, None), num_steps=10, progress=False)
    assert result.steps == 3 and result.stop_reason == "data_exhausted"


def test_the_sweep_options_are_the_range_tests_keywords() -> None:
    # SweepOptions is the one definition every adapter's **sweep is typed with; it must name
    # exactly RangeTest's sweep keywords, so signatures, docs and checks cannot drift apart.
    import inspect

    from lrfinder import SweepOptions

    keywords = set(inspect.signature(RangeTest).parameters) - {"group_ratios"}
    assert set(SweepOptions.__annotations__) == keywords


def test_an_unknown_sweep_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(
        LRFinderError,
        match=r"Unknown option 'strat_lr'\. The sweep takes: start_lr, end_lr, num_steps, mode, "
        r"diverge_threshold, smooth_beta\. Received: strat_lr=1e-05",
    ):
        find_lr(lambda lr: 1.0, strat_lr=1e-5, progress=False)


def test_the_sweep_is_checked_once_not_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # Checking the settings on every rate cost several times the step itself (RangeTest is
    # meant to cost about a microsecond a step, flat in the number of steps).
    from lrfinder._core import _rangetest, _sweep

    checks = []
    real = _sweep.check_sweep
    monkeypatch.setattr(_rangetest, "check_sweep", lambda *a: checks.append(a) or real(*a))
    monkeypatch.setattr(_sweep, "check_sweep", lambda *a: checks.append(a) or real(*a))
    rt = _rangetest.RangeTest(start_lr=1e-6, end_lr=1.0, num_steps=200, diverge_threshold=None)
    rates = []
    while not rt.done:
        rates.append(rt.lr)
        rt.record(1.0)
    assert len(checks) == 1
    from lrfinder import sweep_lr

    assert rates == [sweep_lr(i, start_lr=1e-6, end_lr=1.0, num_steps=200) for i in range(200)]
