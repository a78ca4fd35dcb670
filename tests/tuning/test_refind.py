"""The re-finding policy: when it fires, how far each re-run sweeps, how far the rate may move."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lrfinder
from lrfinder import LRFinderError, NoSuggestionError, RangeTestResult, Refinder, RefindPolicy


def _curve(low: float, high: float, best: float, n: int = 60) -> RangeTestResult:
    """A synthetic curve over low..high with its lowest loss at ``best``, blowing up after."""
    lrs = np.logspace(np.log10(low), np.log10(high), n)
    x = np.log10(lrs / best)
    losses = 1.0 + np.where(
        x < 0, -0.5 / (1 + np.exp(-4 * (x + 1))), 3 * x**2 - 0.5 / (1 + np.exp(-4))
    )
    return RangeTestResult(lrs=lrs, losses=losses)


def _expected_minimum(result: RangeTestResult) -> float:
    return lrfinder.suggest(result, "minimum").lr


# -- the policy ------------------------------------------------------------------------------
def test_a_rerun_sweeps_the_set_decades_around_the_current_rate():
    policy = RefindPolicy(decades_below=1, decades_above=3, num_steps=25)
    assert policy.sweep_settings(0.01) == pytest.approx(
        {"start_lr": 1e-3, "end_lr": 10.0, "num_steps": 25}
    )
    assert policy.sweep_settings(None) == {"start_lr": 1e-7, "end_lr": 10.0, "num_steps": 100}


def test_bound_clamps_each_move_and_smooths_in_log_space():
    policy = RefindPolicy(max_up=2, max_down=4, smoothing=0)
    assert policy.bound(0.1, 10.0) == pytest.approx(0.2)
    assert policy.bound(0.1, 1e-6) == pytest.approx(0.025)
    assert policy.bound(0.1, 0.15) == pytest.approx(0.15)
    smoothed = RefindPolicy(smoothing=0.5, max_up=100)
    assert smoothed.bound(0.01, 1.0) == pytest.approx(math.sqrt(0.01 * 1.0))


@given(
    old=st.floats(1e-8, 10.0),
    found=st.floats(1e-10, 1e3),
    up=st.floats(1.0, 20.0),
    down=st.floats(1.0, 20.0),
    smoothing=st.floats(0.0, 0.99),
)
def test_one_rerun_never_moves_the_rate_past_the_set_factors(old, found, up, down, smoothing):
    new = RefindPolicy(max_up=up, max_down=down, smoothing=smoothing).bound(old, found)
    assert old / down * (1 - 1e-12) <= new <= old * up * (1 + 1e-12)
    # and it moves towards the answer, never away from it (up to the rounding of a geometric mean)
    assert (new - old) * (found - old) >= 0 or abs(new - old) <= 1e-12 * old


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"every_epochs": 0}, "`every_epochs` must be a positive integer"),
        ({"every_steps": 1.5}, "`every_steps` must be a positive integer"),
        ({"patience": True}, "`patience` must be a positive integer"),
        ({"min_delta": -1}, "`min_delta` must be a finite number at least 0"),
        ({"decades_below": 0}, "`decades_below` must be a finite number above 0"),
        ({"decades_above": math.inf}, "`decades_above` must be a finite number above 0"),
        ({"max_up": 0.5}, "`max_up` must be a finite number at least 1"),
        ({"max_down": "2"}, "`max_down` must be a finite number at least 1"),
        ({"smoothing": 1.0}, r"`smoothing` must be in \[0, 1\)"),
        ({"read": "peak"}, "`read` must be one of suggestion, relative, edge"),
        ({"num_steps": 1}, "`num_steps` must be an integer of at least 2"),
        ({"initial_start_lr": 10.0}, "`start_lr` must be below `end_lr`"),
    ],
)
def test_bad_policies_are_refused_at_construction(options, match):
    with pytest.raises(LRFinderError, match=match):
        RefindPolicy(**options)


def test_bad_refinder_arguments_are_refused():
    with pytest.raises(LRFinderError, match="`policy` must be a RefindPolicy"):
        Refinder({"every_epochs": 1})  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match="`lr` must be a finite number above 0"):
        Refinder(lr=0.0)
    with pytest.raises(LRFinderError, match="`trigger` must be one of"):
        Refinder(lr=0.1).update(_curve(1e-3, 10, 0.1), trigger="sometimes")


# -- timing ----------------------------------------------------------------------------------
def test_epoch_and_step_triggers_fire_on_their_multiples():
    refinder = Refinder(RefindPolicy(every_epochs=3, every_steps=10), lr=0.1)
    epochs = [e for e in range(1, 13) if refinder.epoch_end(e)]
    steps = [s for s in range(0, 45) if refinder.step_end(s)]
    assert epochs == [3, 6, 9, 12]
    assert steps == [10, 20, 30, 40]
    off = Refinder(RefindPolicy(every_epochs=None), lr=0.1)
    assert not any(off.epoch_end(e) or off.step_end(e) for e in range(1, 50))


def test_plateau_fires_after_patience_checks_without_improvement_and_starts_over():
    refinder = Refinder(RefindPolicy(every_epochs=None, patience=2, min_delta=0.01), lr=0.1)
    metrics = [1.0, 0.9, 0.895, 0.899, 0.85, 0.86, 0.855, 0.849, 0.848, 0.847]
    fired = [i for i, m in enumerate(metrics, 1) if refinder.epoch_end(i, metric=m)]
    # 0.895 and 0.899 improve on 0.9 by less than 1%: two bad checks; 0.85 resets;
    # 0.86 and 0.855 are bad; then 0.849, 0.848 (bad, < 1% below 0.85) and 0.847 fire again
    assert fired == [4, 7, 9]


def test_a_nan_loss_counts_as_no_progress():
    refinder = Refinder(RefindPolicy(every_epochs=None, patience=2), lr=0.1)
    fired = [
        i
        for i, m in enumerate([math.nan, 1.0, math.nan, math.inf, 0.5], 1)
        if refinder.epoch_end(i, metric=m)
    ]
    assert fired == [4]  # 1.0 is the first best; NaN and inf are two checks without progress


def test_a_plateau_policy_needs_the_metric():
    refinder = Refinder(RefindPolicy(patience=1), lr=0.1)
    with pytest.raises(LRFinderError, match="needs the monitored loss"):
        refinder.epoch_end(1)


# -- updates ---------------------------------------------------------------------------------
def test_the_initial_test_sets_the_rate_and_reruns_move_it_within_bounds():
    refinder = Refinder(
        RefindPolicy(method="minimum", initial_method="minimum", max_up=2, max_down=3, smoothing=0)
    )
    first = _curve(1e-7, 10, best=0.1)
    record = refinder.update(first, trigger="initial")
    assert record.old_lr is None
    assert record.new_lr == record.found_lr == pytest.approx(_expected_minimum(first))
    lr = record.new_lr
    assert refinder.sweep_settings()["start_lr"] == pytest.approx(lr / 100)

    far_down = _curve(lr / 100, lr * 100, best=lr / 5)
    record = refinder.update(far_down, trigger="epochs", epoch=1, step=30)
    assert record.found_lr == pytest.approx(_expected_minimum(far_down))
    assert record.new_lr == pytest.approx(lr / 3)  # clamped
    assert (record.epoch, record.step, record.steps) == (1, 30, far_down.steps)
    assert refinder.steps_spent == first.steps + far_down.steps


def test_the_first_test_reads_with_the_default_rule_and_reruns_with_the_policys():
    # The full sweep from fresh weights is what `fall` was chosen on (the quality benchmark);
    # `valley` reads it decades too low. The re-runs keep the policy's `method`.
    refinder = Refinder(RefindPolicy(smoothing=0, max_up=100, max_down=100))
    assert refinder.policy.method == "valley" and refinder.policy.initial_method is None
    first = _curve(1e-7, 10, best=0.1)
    record = refinder.update(first, trigger="initial")
    assert record.found_lr == pytest.approx(lrfinder.suggest(first, lrfinder.DEFAULT_METHOD).lr)
    assert record.found_lr != pytest.approx(lrfinder.suggest(first, "valley").lr)
    lr = refinder.lr
    rerun = _curve(lr / 100, lr * 100, best=lr / 2)
    assert refinder.update(rerun).found_lr == pytest.approx(lrfinder.suggest(rerun, "valley").lr)
    chosen = Refinder(RefindPolicy(initial_method="minimum"))
    assert chosen.update(first).found_lr == pytest.approx(_expected_minimum(first))


def test_a_flagged_curve_is_logged_and_kept_in_the_record(caplog):
    refinder = Refinder()
    short = _curve(1e-7, 10, 0.1, n=20)
    with caplog.at_level("WARNING", logger="lrfinder"):
        record = refinder.update(short, trigger="initial")  # logged; no Python warning
    with pytest.warns(lrfinder.LRFinderWarning, match="Few points"):
        expected = lrfinder.suggest(short)
    assert record.warnings == expected.warnings != ()
    assert "not to be trusted as it is: Few points" in caplog.text


def test_a_rerun_without_a_suggestion_keeps_the_rate_and_says_why(caplog):
    refinder = Refinder(lr=0.01)
    flat = RangeTestResult(lrs=np.logspace(-4, 0, 40), losses=np.ones(40))
    with caplog.at_level("WARNING", logger="lrfinder"):
        record = refinder.update(flat)
    assert record.found_lr is None
    assert record.new_lr == 0.01
    assert "flat" in record.reason
    assert "found no rate" in caplog.text


def test_an_initial_test_without_a_suggestion_raises():
    flat = RangeTestResult(lrs=np.logspace(-7, 1, 40), losses=np.ones(40))
    with pytest.raises(NoSuggestionError, match="initial range test found no rate"):
        Refinder().update(flat, trigger="initial")


def test_relative_read_moves_the_rate_by_the_factor_the_suggestion_moved():
    refinder = Refinder(
        RefindPolicy(
            method="minimum",
            initial_method="minimum",
            read="relative",
            max_up=100,
            max_down=100,
            smoothing=0,
        )
    )
    first = _curve(1e-7, 10, best=0.1)
    refinder.update(first)
    lr = refinder.lr
    second = _curve(lr / 100, lr * 100, best=0.05)
    record = refinder.update(second)
    ratio = _expected_minimum(second) / _expected_minimum(first)
    assert record.new_lr == pytest.approx(lr * ratio)


def test_edge_read_keeps_the_rate_at_its_distance_from_the_divergence():
    refinder = Refinder(
        RefindPolicy(
            method="minimum",
            initial_method="minimum",
            read="edge",
            max_up=100,
            max_down=100,
            smoothing=0,
        )
    )
    lrs = np.logspace(-7, 1, 80)
    first = RangeTestResult(
        lrs=lrs[:70], losses=_curve(1e-7, 10, 0.1, 80).losses[:70], stop_reason="diverged"
    )
    refinder.update(first)
    lr = refinder.lr
    edge = float(first.lrs[-1])
    rerun = _curve(lr / 100, lr * 100, best=lr)
    diverged = RangeTestResult(lrs=rerun.lrs[:30], losses=rerun.losses[:30], stop_reason="diverged")
    record = refinder.update(diverged)
    assert record.found_lr == pytest.approx(lr * float(diverged.lrs[-1]) / edge)
    assert record.new_lr == pytest.approx(lr / 100)  # clamped by max_down
    # a re-run that never diverged says only "the edge is at least end_lr": the rate holds
    lr = refinder.lr
    calm = RangeTestResult(
        lrs=np.logspace(np.log10(lr / 100), np.log10(lr * 1.5), 30), losses=np.linspace(1, 0.9, 30)
    )
    assert refinder.update(calm).new_lr == pytest.approx(lr)
    stopped = RangeTestResult(lrs=calm.lrs, losses=calm.losses, stop_reason="data_exhausted")
    assert refinder.update(stopped).found_lr is None


def test_run_drives_a_framework_free_step():
    target = 3.0
    w = [0.0]

    def step(lr: float) -> float:
        loss = (w[0] - target) ** 2
        w[0] -= lr * 2 * (w[0] - target)
        return loss

    refinder = Refinder(
        RefindPolicy(initial_start_lr=1e-4, initial_end_lr=10, initial_num_steps=60)
    )
    record = refinder.run(step, trigger="initial")
    assert record.steps == record.result.steps <= 60
    assert record.result.lrs[0] == pytest.approx(1e-4)


def test_state_dict_resumes_the_rate_the_plateau_count_and_the_cost():
    policy = RefindPolicy(every_epochs=None, patience=2, method="minimum", smoothing=0)
    refinder = Refinder(policy)
    refinder.update(_curve(1e-7, 10, best=0.1))
    for epoch, metric in enumerate([1.0, 1.0], 1):
        refinder.epoch_end(epoch, metric=metric)
    resumed = Refinder(policy)
    resumed.load_state_dict(refinder.state_dict())
    assert resumed.lr == refinder.lr
    assert resumed.steps_spent == refinder.steps_spent
    # one more check without progress reaches patience 2 in both
    assert resumed.epoch_end(3, metric=1.0) == refinder.epoch_end(3, metric=1.0) == "plateau"


# -- schedules -------------------------------------------------------------------------------
def test_scaled_schedule_follows_the_current_rate():
    def shape(step: int) -> float:
        return 0.1 * (1 - step / 100)

    refinder = Refinder(lr=0.1)
    scaled = refinder.scaled(shape, peak=0.1)
    assert [scaled(s) for s in (0, 50)] == pytest.approx([shape(0), shape(50)])
    refinder.lr = 0.04
    assert [scaled(s) for s in (0, 50)] == pytest.approx([0.04, 0.02])


def test_scaled_schedule_errors():
    with pytest.raises(LRFinderError, match="`schedule` must be a callable"):
        Refinder(lr=0.1).scaled(0.1)  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match="`peak` must be a finite number above 0"):
        Refinder(lr=0.1).scaled(lambda s: 1.0, peak=0)
    with pytest.raises(LRFinderError, match="no peak yet"):
        Refinder().scaled(lambda s: 1.0)(0)


def test_docstring_examples():
    import doctest

    import lrfinder._tuning._refind

    failed, attempted = doctest.testmod(lrfinder._tuning._refind, optionflags=doctest.ELLIPSIS)
    assert (failed, attempted > 0) == (0, True)


def test_an_unknown_method_is_refused_at_construction_not_mid_training():
    with pytest.raises(LRFinderError, match=r"Unknown suggestion method 'nope'. Choose one of: "):
        RefindPolicy(method="nope")
    for method in (None, *lrfinder.methods()):
        assert RefindPolicy(method=method).method == method


def test_numpy_numbers_are_numbers_in_a_policy():
    policy = RefindPolicy(max_up=np.float32(2.0), smoothing=np.float32(0.5))
    assert 0.01 < policy.bound(0.01, 1.0) <= 0.02  # raised, at most x2
    with pytest.raises(LRFinderError, match=r"`max_up` must be a finite number at least 1"):
        RefindPolicy(max_up=True)
