"""The race: candidates from a range test, successive halving on held-out loss, the result."""

from __future__ import annotations

import copy
import dataclasses
import doctest
import importlib
import json
import logging
import math
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrfinder
import lrfinder._tuning._race_result as race_result_module
from _curves import sigmoid_curve
from lrfinder import (
    LRFinderError,
    NoSuggestionError,
    RangeTestResult,
    ResultFileError,
    TuneResult,
    candidates,
    suggest,
    tune_lr,
)
from lrfinder._tuning._candidates import CAP_FACTOR
from lrfinder._tuning._race import Round, past_edge, plan_rounds, race
from lrfinder._tuning._race_result import RaceRound
from lrfinder._tuning._trial import Resuming, run_race

Trial = Callable[[float, int], float]


def decades(a: float, b: float) -> float:
    return abs(math.log10(a / b))


def bowl(
    best: float, *, diverge: float = math.inf, noise: float = 0.0, budget: int = 400, seed: int = 0
) -> Trial:
    """Held-out loss 1 + (decades from ``best``)^2, noise that shrinks with training (its standard
    deviation is ``noise`` at the full budget), NaN above ``diverge``."""
    rng = np.random.default_rng(seed)

    def trial(lr: float, steps: int) -> float:
        if lr > diverge:
            return math.nan
        return (
            1.0
            + math.log10(lr / best) ** 2
            + noise * math.sqrt(budget / steps) * float(rng.standard_normal())
        )

    return trial


class Recorder:
    """A trial from a table of held-out losses per rate, recording every call."""

    def __init__(self, losses: Callable[[float, int], float]) -> None:
        self.losses = losses
        self.calls: list[tuple[float, int]] = []

    def __call__(self, lr: float, steps: int) -> float:
        self.calls.append((lr, steps))
        return self.losses(lr, steps)


RATES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def flat_curve() -> RangeTestResult:
    """A curve that never falls (no suggestion), its lowest raw loss at step 70."""
    lrs = np.logspace(-6, 0, 100)
    losses = 1 + 1e-3 * np.random.default_rng(0).standard_normal(100)
    losses[70] = losses.min() - 1e-4
    return RangeTestResult(lrs=lrs, losses=losses)


# -- candidates --------------------------------------------------------------------------------
@pytest.mark.parametrize("centre", [-4.0, -2.0, -1.0])
@pytest.mark.parametrize("use", ["constant", "onecycle"])
def test_candidates_are_log_spaced_around_the_suggestion(centre: float, use: str) -> None:
    curve = sigmoid_curve(centre=centre, noise=0.01)
    s = suggest(curve, for_schedule=use)
    rates = candidates(curve, for_schedule=use, num=7, span=1.0)
    assert len(rates) == 7 and list(rates) == sorted(rates)
    assert s.lr in rates
    assert curve.lrs[0] <= rates[0] and rates[-1] <= CAP_FACTOR * s.high * (1 + 1e-12)
    assert decades(rates[0], s.lr) <= 1.0 + 1e-9 and decades(rates[-1], s.lr) <= 1.0 + 1e-9
    steps = np.diff(np.log10(rates))
    below, above = steps[: rates.index(s.lr)], steps[rates.index(s.lr) :]
    for side in (below, above):  # evenly spaced on each side of the suggestion
        assert np.allclose(side, side[0]) if side.size else True


def test_candidates_for_other_schedules_use_the_constant_reading() -> None:
    curve = sigmoid_curve(noise=0.01)
    assert candidates(curve, for_schedule="cosine") == candidates(curve)
    assert candidates(curve, for_schedule="one_cycle") == candidates(curve, for_schedule="onecycle")
    assert candidates(curve, for_schedule="onecycle") != candidates(curve)


def test_candidates_stop_below_the_blowup_and_at_the_last_finite_rate() -> None:
    curve = sigmoid_curve(centre=-2.0)
    lowest = suggest(curve).high  # the rate at the lowest smoothed loss
    rates = candidates(curve, span=3.0)
    assert rates[-1] == pytest.approx(CAP_FACTOR * lowest)
    # A sweep that ended in NaN just after its lowest point: nothing above its last finite rate.
    lrs = np.logspace(-6, 0, 80)
    losses = 2.0 / (1.0 + np.exp(3.0 * (np.log10(lrs) + 3.0)))
    losses[60:] = np.nan
    rates = candidates((lrs, losses), span=3.0)
    assert rates[-1] <= lrs[59]


def test_candidates_never_go_below_the_sweep_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    curve = sigmoid_curve(centre=-5.5)
    with caplog.at_level(logging.WARNING, logger="lrfinder"):
        rates = candidates(curve, span=2.0)
    assert rates[0] == curve.lrs[0]
    assert "The sweep starts only 1.46 decades below the suggestion" in caplog.text
    assert "Lower `start_lr` to race lower rates" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lrfinder"):
        candidates(curve, span=1.0)
    assert not caplog.text


def noise_curve(n: int = 100, *, diverge_at: int | None = 80, seed: int = 2) -> RangeTestResult:
    """A loss that only wanders around 1 and blows up at ``diverge_at``; the reading flags its
    fall as noise (it does for about half of such curves: seed 2 is one)."""
    lrs = np.logspace(-7, 1, n)
    losses = 1 + 0.2 * np.random.default_rng(seed).standard_normal(n)
    if diverge_at is not None:
        losses[diverge_at:] = np.nan
    return RangeTestResult(lrs=lrs, losses=losses)


@pytest.mark.parametrize("curve", ["noise", "flat"])
def test_a_curve_that_tells_nothing_races_below_where_the_sweep_stopped(
    curve: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = noise_curve() if curve == "noise" else flat_curve()
    stop = 80 if curve == "noise" else 100
    last = math.log10(result.lrs[stop - 1])
    with caplog.at_level(logging.WARNING, logger="lrfinder"):
        rates = candidates(result)
    logs = np.log10(rates)
    assert logs[0] == pytest.approx(last - 3.5) and logs[-1] == pytest.approx(last - 0.5)
    assert len(rates) == 7 and np.allclose(np.diff(logs), 0.5)  # the spacing of num=5, span=1
    said = "times its step-to-step noise" if curve == "noise" else "no suggestion (The curve is"
    assert said in caplog.text and "2 more than `num`, so the race costs more" in caplog.text
    where = "diverged" if curve == "noise" else "ended"
    assert f"where the sweep {where}" in caplog.text
    assert len(candidates(result, num=3, span=1.0)) == 4  # 1 decade apart
    assert len(candidates(result, num=5, span=0.1)) == 9  # at most 2 * num - 1
    with pytest.raises(LRFinderError, match="`for_schedule` must be a schedule's name"):
        candidates(result, for_schedule="")
    tuned = tune_lr(bowl(10 ** (last - 1.5)), result=result, budget_steps=8, progress=False)
    assert tuned.lr == pytest.approx(10 ** (last - 1.5)) and len(tuned.rates) == 7
    assert "instead, 3.5 to 0.5 decades below where the sweep" in tuned.warnings[0]


def test_a_trusted_curve_keeps_the_race_around_its_suggestion() -> None:
    clear = sigmoid_curve(noise=0.01)
    assert len(candidates(clear)) == 5
    assert suggest(clear).lr in candidates(clear)


def test_an_unusable_curve_raises() -> None:
    lrs = np.logspace(-6, 0, 50)
    with pytest.raises(NoSuggestionError, match="cannot place the race: The loss never fell"):
        candidates((lrs, np.linspace(1, 2, 50)))
    losses = np.full(50, np.nan)
    losses[:3] = [1.0, 0.5, 0.4]
    with pytest.raises(NoSuggestionError, match=r"cannot place the race: Too few points.*`rates`"):
        candidates((lrs, losses))
    # A flat curve from a test that stopped early: where it stopped bounds nothing.
    flat = flat_curve()
    stopped = RangeTestResult(lrs=flat.lrs, losses=flat.losses, stop_reason="data_exhausted")
    with pytest.raises(NoSuggestionError, match="cannot place the race: The loss had not fallen"):
        candidates(stopped)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num": 1}, r"`num` must be an integer of at least 2. Received: num=1"),
        ({"num": 2.5}, r"`num` must be an integer of at least 2. Received: num=2.5"),
        ({"span": 0}, r"`span` must be a finite number above 0. Received: span=0"),
        ({"span": math.inf}, r"`span` must be a finite number above 0. Received: span=inf"),
        ({"for_schedule": ""}, r"`for_schedule` must be a schedule's name .* Received: for_sc"),
    ],
)
def test_candidates_check_their_options(options: dict, match: str) -> None:
    with pytest.raises(LRFinderError, match=match):
        candidates(sigmoid_curve(), **options)


# -- the race -----------------------------------------------------------------------------------
@pytest.mark.parametrize("best", [0.004, 0.01, 0.03])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_race_finds_the_best_rate(best: float, seed: int) -> None:
    curve = sigmoid_curve(centre=-2.0, noise=0.02, seed=seed)
    trial = bowl(best, diverge=0.15, noise=0.005, budget=400, seed=seed)
    rounds = ((11, 0.25), (4, 0.5), (2, 1.0))
    tuned = tune_lr(trial, result=curve, budget_steps=400, num=11, rounds=rounds, progress=False)
    assert decades(tuned.lr, best) < 0.15
    # With the default five, the winner is the candidate nearest the best rate.
    tuned = tune_lr(bowl(best, diverge=0.15), result=curve, budget_steps=400, progress=False)
    assert tuned.lr == min(tuned.rates, key=lambda r: decades(r, best))


def test_halving_keeps_the_best_and_trains_them_longer() -> None:
    table = {1e-4: 5.0, 1e-3: 2.0, 1e-2: 1.0, 1e-1: 3.0, 1.0: 4.0, 10.0: 6.0}
    trial = Recorder(lambda lr, steps: table[lr] - steps / 1000)
    rates, rounds = race(
        trial, list(table), budget_steps=100, rounds=((6, 0.25), (3, 0.5), (1, 1.0))
    )
    assert rates == tuple(table)
    assert [r.steps for r in rounds] == [25, 50, 100]
    assert trial.calls == [
        *((lr, 25) for lr in table),
        *((lr, 50) for lr in (1e-3, 1e-2, 1e-1)),
        (1e-2, 100),
    ]
    assert rounds[1].raced.tolist() == [False, True, True, True, False, False]
    assert rounds[2].losses[2] == pytest.approx(0.9) and np.isnan(rounds[2].losses[0])


def test_default_rounds_race_five_at_a_quarter_then_two() -> None:
    assert plan_rounds(None, 5) == (Round(5, 0.25), Round(2, 1.0))
    assert plan_rounds(None, 2) == (Round(2, 1.0),)
    assert plan_rounds([(3, 0.5), Round(1, 1)], 3) == (Round(3, 0.5), Round(1, 1.0))
    tuned = tune_lr(bowl(1e-2), rates=RATES, budget_steps=100, progress=False)
    assert tuned.trainings == 3.25 and tuned.steps_spent == 325
    assert tuned.settings["rounds"] == [[5, 0.25], [2, 1.0]]


def test_finish_ends_the_default_rounds_short_of_the_budget_and_only_them() -> None:
    assert plan_rounds(None, 5, finish=0.9) == (Round(5, 0.25), Round(2, 0.9))
    assert plan_rounds(None, 2, finish=0.9) == (Round(2, 0.9),)
    going_on = plan_rounds(None, 5, going_on=True, finish=0.8)
    assert going_on == (Round(5, 0.2), Round(3, 0.4), Round(2, 0.8))
    given = [(5, 0.25), (2, 1.0)]
    assert plan_rounds(given, 5, finish=0.9) == (Round(5, 0.25), Round(2, 1.0))
    tuned = tune_lr(bowl(1e-2), rates=RATES, budget_steps=100, finish=0.9, progress=False)
    assert tuned.settings["rounds"] == [[5, 0.25], [2, 0.9]]
    assert tuned.steps_spent == 5 * 25 + 2 * 90 and tuned.lr == 1e-2
    for bad in (0.4, 1.5, "0.9", math.nan):
        with pytest.raises(LRFinderError, match=r"`finish` .* between 0.5 and 1.0. Received"):
            plan_rounds(None, 5, finish=bad)


def test_ties_go_to_the_lower_rate() -> None:
    tuned = tune_lr(lambda lr, steps: 1.0, rates=RATES, budget_steps=4, progress=False)
    assert tuned.rounds[1].raced.tolist() == [True, True, False, False, False]
    assert tuned.lr == 1e-4


def test_steps_spent_count_every_trial_step_and_the_range_test() -> None:
    curve = sigmoid_curve(centre=-2.0, noise=0.02)
    trial = Recorder(bowl(0.01, diverge=0.1))
    tuned = tune_lr(trial, result=curve, budget_steps=37, progress=False)
    spent = sum(steps for _, steps in trial.calls)
    assert tuned.trial_steps == spent == 5 * 9 + 2 * 37
    assert tuned.steps_spent == spent + curve.steps
    assert tuned.trainings == (spent + curve.steps) / 37


class Going:
    """A resuming trial over a bowl: records where each call starts and how many states are
    held at once."""

    def __init__(self, best: float = 1e-2, *, fail_at: int | None = None) -> None:
        self.calls: list[tuple[float, int, int]] = []  # (lr, first step, steps)
        self.held, self.most = set(), 0
        self.fail_at = fail_at
        self.trial = Resuming(self.run, self.held.remove)
        self.bowl = bowl(best)

    def run(self, lr: float, steps: int, kept: tuple | None) -> tuple[float, tuple]:
        start = 0 if kept is None else kept[1]
        if kept is not None:
            self.held.remove(kept)
        if len(self.calls) == self.fail_at:
            raise RuntimeError("the trial failed")
        self.calls.append((lr, start, steps))
        state = (lr, steps)
        self.held.add(state)
        self.most = max(self.most, len(self.held))
        return self.bowl(lr, steps), state


TWO_ROUNDS = ((5, 0.25), (2, 1.0))  # the default where the trials start over


def test_a_resuming_trial_goes_on_from_its_last_round_and_counts_only_the_new_steps() -> None:
    going = Going()
    tuned = tune_lr(going.trial, rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, progress=False)
    assert going.calls == [*((lr, 0, 25) for lr in RATES), (1e-3, 25, 100), (1e-2, 25, 100)]
    assert [r.resumed for r in tuned.rounds] == [False, True]
    assert tuned.trial_steps == 5 * 25 + 2 * 75 and tuned.trainings == 2.75
    assert going.most == 3 and not going.held  # the next round's 2, plus the trial running


def test_going_on_at_a_constant_rate_the_default_has_a_middle_round() -> None:
    going = Going()
    tuned = tune_lr(going.trial, rates=RATES, budget_steps=100, progress=False)
    middle = [(lr, 20, 40) for lr in (1e-3, 1e-2, 1e-1)]
    assert going.calls == [
        *((lr, 0, 20) for lr in RATES),
        *middle,
        (1e-3, 40, 100),
        (1e-2, 40, 100),
    ]
    assert [r.resumed for r in tuned.rounds] == [False, True, True]
    assert tuned.settings["rounds"] == [[5, 0.2], [3, 0.4], [2, 1.0]]
    assert tuned.trial_steps == 5 * 20 + 3 * 20 + 2 * 60 and tuned.trainings == 2.8
    assert going.most == 4 and not going.held  # the next round's 3, plus the trial running


@pytest.mark.parametrize(
    ("resuming", "for_schedule", "candidates"),
    [(False, "constant", 5), (True, "one_cycle", 5), (True, "constant", 3)],
)
def test_the_default_keeps_two_rounds_unless_a_constant_rate_goes_on(
    resuming: bool, for_schedule: str, candidates: int
) -> None:
    trial = Going().trial if resuming else bowl(1e-2)
    rates = RATES[:candidates]
    tuned = tune_lr(trial, rates=rates, budget_steps=100, for_schedule=for_schedule, progress=False)
    assert tuned.settings["rounds"] == [[candidates, 0.25], [2, 1.0]]


def test_a_resuming_trial_agrees_with_a_plain_one_on_everything_but_the_cost() -> None:
    plain = tune_lr(bowl(1e-2), rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, progress=False)
    resumed = tune_lr(
        Going().trial, rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, progress=False
    )
    assert [r.losses for r in plain.rounds] == [r.losses for r in resumed.rounds]
    assert (plain.lr, plain.confidence, plain.warnings) == (
        resumed.lr,
        resumed.confidence,
        resumed.warnings,
    )
    assert plain.trial_steps - resumed.trial_steps == 2 * 25


def test_a_round_no_longer_than_the_last_starts_again_from_the_snapshot() -> None:
    going = Going()
    rounds = ((5, 0.3), (3, 0.5), (2, 0.6), (1, 1.0))
    tuned = tune_lr(going.trial, rates=RATES, budget_steps=4, rounds=rounds, progress=False)
    assert [r.steps for r in tuned.rounds] == [1, 2, 2, 4]  # 0.6 x 4 rounds to 2, as 0.5 does
    assert [r.resumed for r in tuned.rounds] == [False, True, False, True]
    assert {start for _, start, steps in going.calls if steps == 2} == {0, 1}
    assert tuned.trial_steps == 5 * 1 + 3 * 1 + 2 * 2 + 1 * 2
    assert not going.held


@pytest.mark.parametrize("fail_at", [6, 9])  # the middle round's second trial; a finalist's
def test_every_kept_state_is_dropped_when_a_resumed_trial_fails(fail_at: int) -> None:
    going = Going(fail_at=fail_at)
    with pytest.raises(RuntimeError, match="the trial failed"):
        tune_lr(going.trial, rates=RATES, budget_steps=100, progress=False)
    assert not going.held


def test_a_resumed_round_is_saved_and_checked(tmp_path: Path) -> None:
    tuned = tune_lr(Going().trial, rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, progress=False)
    loaded = TuneResult.load(tuned.save(tmp_path / "race.json"))
    assert loaded == tuned and loaded.rounds[1].resumed and loaded.trial_steps == 275
    data = tuned.to_dict()
    assert "resumed" not in data["rounds"][0]  # files from before resuming load as they were
    del data["rounds"][1]["resumed"]
    assert TuneResult.from_dict(data).trial_steps == 325
    assert loaded != TuneResult.from_dict(data)
    first = RaceRound(steps=25, losses=tuned.rounds[0].losses, resumed=True)
    with pytest.raises(LRFinderError, match=r"A resumed round goes on from the round before"):
        dataclasses.replace(tuned, rounds=(first, tuned.rounds[1]))
    with pytest.raises(LRFinderError, match=r"`resumed` must be True or False. Received: 1"):
        RaceRound(steps=1, losses=(1.0,), resumed=1)  # type: ignore[arg-type]


def test_min_steps_lengthen_the_first_rounds() -> None:
    trial = Recorder(bowl(1e-2))
    tune_lr(trial, rates=RATES, budget_steps=8, min_steps=5, progress=False)
    assert sorted({steps for _, steps in trial.calls}) == [5, 8]


def test_tune_lr_runs_the_range_test_with_step() -> None:
    w = [0.0]
    steps_run = []

    def step(lr: float) -> float:
        steps_run.append(lr)
        loss = (w[0] - 3.0) ** 2
        w[0] -= lr * 2 * (w[0] - 3.0)
        return loss

    tuned = tune_lr(
        bowl(0.05), step=step, budget_steps=20, start_lr=1e-4, num_steps=60, progress=False
    )
    assert tuned.range_test is not None and tuned.range_test.steps == len(steps_run) <= 60
    assert tuned.steps_spent == tuned.trial_steps + len(steps_run)
    assert tuned.settings["source"] == "step"
    assert suggest(tuned.range_test).lr in tuned.rates


def test_rates_with_a_result_keep_the_range_test() -> None:
    curve = sigmoid_curve()
    tuned = tune_lr(bowl(1e-2), result=curve, rates=RATES[::-1], budget_steps=4, progress=False)
    assert tuned.rates == RATES  # ascending
    assert tuned.range_test == curve and tuned.settings["source"] == "rates"
    assert tuned.steps_spent == tuned.trial_steps + curve.steps


def test_diverged_trials_count_as_the_worst_score() -> None:
    trial = Recorder(bowl(1.0, diverge=1e-2))  # best beyond the blow-up: nan above 1e-2
    tuned = tune_lr(trial, rates=RATES, budget_steps=8, progress=False)
    assert tuned.rounds[0].losses[3:] == (math.inf, math.inf)
    assert tuned.lr == 1e-2 and tuned.finalists == (1e-3, 1e-2)
    inf = tune_lr(lambda lr, s: math.inf if lr > 1e-2 else lr, rates=RATES, budget_steps=4)
    assert inf.lr == 1e-4 and inf.rounds[0].losses[-1] == math.inf


def test_only_one_finite_candidate_is_warned_about() -> None:
    tuned = tune_lr(bowl(1e-4, diverge=1e-4), rates=RATES, budget_steps=4, progress=False)
    assert tuned.lr == 1e-4 and tuned.confidence == 0.0
    assert any(w.startswith("Fewer than 2 candidates gave a finite") for w in tuned.warnings)


def test_every_candidate_diverging_raises() -> None:
    with pytest.raises(
        NoSuggestionError, match=r"Every candidate of round 1 diverged over 1 steps"
    ):
        tune_lr(lambda lr, steps: math.nan, rates=RATES, budget_steps=4, progress=False)

    # The survivors diverge only when trained for the whole budget.
    def trial(lr: float, steps: int) -> float:
        return math.nan if steps == 4 else 1.0 + lr

    with pytest.raises(NoSuggestionError, match=r"round 2 diverged over 4 steps \(0.0001, 0.001\)"):
        tune_lr(trial, rates=RATES, budget_steps=4, progress=False)


@pytest.mark.parametrize(("best", "side"), [(1e-6, "lowest"), (100.0, "highest")])
def test_a_winner_at_an_edge_is_warned_about(best: float, side: str) -> None:
    tuned = tune_lr(bowl(best), rates=RATES, budget_steps=4, progress=False)
    inside = tune_lr(bowl(1e-2 * 10**0.4), rates=RATES, budget_steps=4, progress=False)
    assert tuned.lr == (RATES[0] if side == "lowest" else RATES[-1])
    assert f"The winner is the {side} candidate" in " ".join(tuned.warnings)
    assert "widen `span`" in " ".join(tuned.warnings)
    assert not any("candidate:" in w for w in inside.warnings)
    # The margin over the runner-up in units of the first round's median-minus-best, halved.
    first = sorted(v for v in tuned.rounds[0].losses if math.isfinite(v))
    final = sorted(v for v in tuned.rounds[-1].losses if math.isfinite(v))
    ratio = (final[1] - final[0]) / (first[len(first) // 2] - first[0])
    assert tuned.confidence == pytest.approx(0.5 * ratio / (ratio + 0.25))


@pytest.mark.parametrize(
    ("best", "added"),
    [
        (1e-6, (1e-5, 1e-6)),  # the added rate wins again: a second one, then no more
        (10**-4.6, (1e-5,)),  # the added rate wins, but the parabola turns before 1e-6
        (10**-4.3, (1e-5,)),  # the added rate loses
        (1e3, (10.0, 100.0)),
        (1e-2, ()),  # the best inside: nothing added
    ],
)
def test_widen_adds_rates_past_an_edge_that_wins_the_first_round(
    best: float, added: tuple[float, ...], caplog: pytest.LogCaptureFixture
) -> None:
    trial = Recorder(bowl(best))
    with caplog.at_level(logging.INFO, logger="lrfinder"):
        tuned = tune_lr(
            trial, rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, widen=2, progress=False
        )
    first = [lr for lr, steps in trial.calls if steps == 25]
    assert first[:5] == list(RATES)
    assert first[5:] == pytest.approx(added, rel=1e-12)
    assert tuned.rates == pytest.approx(sorted((*RATES, *added)), rel=1e-12)
    assert np.isfinite(tuned.rounds[0].losses).all() and len(tuned.rounds[0].losses) == 5 + len(
        added
    )
    nearest = min(tuned.rates, key=lambda r: decades(r, best))
    assert tuned.lr == nearest and tuned.settings["widen"] == 2
    at_edge = tuned.lr in (tuned.rates[0], tuned.rates[-1])
    assert any("candidate:" in w for w in tuned.warnings) == at_edge
    assert any("added" in w for w in tuned.warnings) == bool(added)
    assert caplog.text.count("added (held-out loss") == len(added)
    # The default adds none.
    plain = tune_lr(bowl(best), rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, progress=False)
    assert plain.rates == RATES


def test_an_edge_winner_whose_loss_has_turned_adds_nothing() -> None:
    # Past the parabola through 1.0, 1.05 and 2.0 the loss would rise: its lowest point lies
    # between the two lowest rates, so the best rate is inside.
    table = dict(zip(RATES, (1.0, 1.05, 2.0, 3.0, 4.0), strict=True))
    trial = Recorder(lambda lr, steps: table[lr])
    tuned = tune_lr(trial, rates=RATES, budget_steps=4, widen=2, progress=False)
    assert tuned.rates == RATES and len(trial.calls) == 5 + 2
    line = dict(zip(RATES, (1.0, 1.5, 2.0, 3.0, 4.0), strict=True))  # a straight line
    tuned = tune_lr(
        lambda lr, steps: line.get(lr, 0.5), rates=RATES, budget_steps=4, widen=1, progress=False
    )
    assert len(tuned.rates) == 6


def test_past_edge_reads_the_three_outermost_losses_and_stays_within_floats() -> None:
    assert past_edge((1e-3, 1e-2, 1e-1), [1.0, 2.0, 3.0]) == pytest.approx(1e-4)
    assert past_edge((1e-3, 1e-2, 1e-1), [3.0, 2.0, 1.0]) == pytest.approx(1.0)
    assert past_edge((1e-3, 1e-2, 1e-1), [2.0, 1.0, 3.0]) is None  # the best is inside
    assert past_edge((1e-3, 1e-2, 1e-1), [1.0, math.inf, math.inf]) == pytest.approx(1e-4)
    assert past_edge((1e-3, 1e-2, 1e-1), [math.inf] * 3) is None  # nothing trained
    assert past_edge((1e-3, 1e-2), [1.0, 2.0]) is None
    # Upward never past `highest` (the range test's blow-up): up to it, then no further.
    assert past_edge((1e-3, 1e-2, 1e-1), [3.0, 2.0, 1.0], 0.5) == 0.5
    assert past_edge((1e-3, 1e-2, 0.5), [3.0, 2.0, 1.0], 0.5) is None
    assert past_edge((1e-3, 1e-2, 1e-1), [1.0, 2.0, 3.0], 0.5) == pytest.approx(1e-4)
    assert past_edge((1e290, 1e295, 1e300), [3.0, 2.0, 1.0]) is None
    assert past_edge((1e-300, 1e-295, 1e-290), [1.0, 2.0, 3.0]) is None
    # Steeply convex, bottoming out inside: the differences overflow to inf, and still no crash.
    assert past_edge((1e-3, 1e-2, 1e-1), [1.7e308, -1.7e308, -1.75e308]) is None


def test_widen_goes_one_gap_past_the_edge_and_never_with_two_candidates() -> None:
    uneven = (1e-3, 1e-2, 10**-1.5)
    trial = Recorder(bowl(1.0))
    tuned = tune_lr(trial, rates=uneven, budget_steps=4, widen=1, progress=False)
    assert tuned.rates[-1] == pytest.approx(10**-1.0, rel=1e-12)  # the last gap: half a decade
    pair = Recorder(bowl(1.0))
    assert tune_lr(pair, rates=(1e-2, 1e-1), budget_steps=4, widen=3, progress=False).rates == (
        1e-2,
        1e-1,
    )
    assert len(pair.calls) == 2


def test_a_widened_race_goes_on_from_the_added_rates_state() -> None:
    going = Going(best=1e-6)
    tuned = tune_lr(
        going.trial, rates=RATES, budget_steps=100, rounds=TWO_ROUNDS, widen=2, progress=False
    )
    added = [(lr, start, steps) for lr, start, steps in going.calls[5:7]]
    assert [(start, steps) for _, start, steps in added] == [(0, 25), (0, 25)]
    assert going.calls[7:] == [(tuned.rates[0], 25, 100), (tuned.rates[1], 25, 100)]
    assert tuned.rounds[1].resumed and tuned.trial_steps == 7 * 25 + 2 * 75
    assert going.most == 3 and not going.held


@pytest.mark.parametrize(
    ("held_out", "widen", "added"),
    [
        ("val_data", None, 2),
        ("validation_data", None, 2),
        ("data", None, 0),
        ("split", None, 0),
        ("data", 1, 1),
        ("split", 2, 2),
    ],
)
def test_a_race_scored_on_batches_held_out_of_training_widens_only_when_asked(
    held_out: str, widen: int | None, added: int
) -> None:
    curve = sigmoid_curve(centre=-2.0)
    tuned = run_race(
        bowl(10.0),
        total_steps=4,
        result=curve,
        rates=None,
        for_schedule="constant",
        num=5,
        span=1.0,
        rounds=None,
        progress=False,
        shorten="truncate",
        widen=widen,
        held_out=held_out,
    )
    assert len(tuned.rates) == 5 + added and tuned.settings["widen"] == added


def test_a_winner_at_the_blowup_cap_says_so() -> None:
    curve = sigmoid_curve(centre=-2.0)
    tuned = tune_lr(bowl(10.0), result=curve, budget_steps=4, widen=0, progress=False)
    assert tuned.lr == tuned.rates[-1]
    assert "stop at the range test's cap (its blow-up); race higher `rates`" in tuned.warnings[-1]
    # By default the race goes past the cap, two gaps, and says so.
    wide = tune_lr(bowl(10.0), result=curve, budget_steps=4, progress=False)
    assert wide.settings["widen"] == 2 and len(wide.rates) == len(tuned.rates) + 2
    assert wide.rates[:-2] == tuned.rates and wide.lr == wide.rates[-1]
    assert "added 2 rate(s) past it" in " ".join(wide.warnings)
    assert "added rates past it, up to `widen`; raise it" in wide.warnings[-1]
    # Never past the range test's blow-up: a sweep that stopped lower stops the race there.
    k = int(np.searchsorted(curve.lrs, 0.5))  # under one gap above the highest candidate
    losses = curve.losses.copy()
    losses[k + 1] = np.nan
    short = RangeTestResult(lrs=curve.lrs[: k + 2], losses=losses[: k + 2])
    plain = tune_lr(bowl(10.0), result=short, budget_steps=4, widen=0, progress=False)
    capped = tune_lr(bowl(10.0), result=short, budget_steps=4, progress=False)
    assert plain.rates[-1] < curve.lrs[k] < plain.rates[-1] * (plain.rates[-1] / plain.rates[-2])
    assert capped.rates == (*plain.rates, float(curve.lrs[k]))
    # Given rates alone are raced as they are.
    given = tune_lr(bowl(10.0), rates=tuned.rates, budget_steps=4, progress=False)
    assert given.rates == tuned.rates and given.settings["widen"] == 0


def test_confidence_reads_the_margin_over_the_runner_up() -> None:
    clear = tune_lr(bowl(1e-2), rates=RATES, budget_steps=4, progress=False)
    close = tune_lr(bowl(1e-2 * 10**0.49), rates=RATES, budget_steps=4, progress=False)
    assert 0.5 < clear.confidence <= 1.0 and not clear.warnings
    assert close.confidence < 0.2 < clear.confidence
    assert "nearly identical" in " ".join(close.warnings)
    same = tune_lr(lambda lr, steps: 0.5, rates=RATES, budget_steps=4, progress=False)
    assert same.confidence == 0.0 and "nearly identical" in " ".join(same.warnings)


def test_the_suggestion_and_the_string() -> None:
    curve = sigmoid_curve(centre=-2.0, noise=0.02)
    tuned = tune_lr(bowl(0.01, diverge=0.1), result=curve, budget_steps=40, progress=False)
    s = tuned.suggestion
    assert s.method == "race" and s.lr == tuned.lr and s.confidence == tuned.confidence
    assert (s.low, s.high) == (min(tuned.finalists), max(tuned.finalists))
    assert curve.lrs[s.index] <= s.lr < curve.lrs[s.index + 1]
    assert str(tuned) == (
        f"{tuned.lr:.3g} (race of 5 rates on held-out loss, confidence {tuned.confidence:.2f})"
    )
    edge = tune_lr(bowl(100.0), rates=RATES, budget_steps=4, progress=False)
    assert str(edge).startswith("1 (race of 5 rates on held-out loss, confidence ")
    assert "; 1 warning: The winner is the highest candidate" in str(edge)
    assert edge.suggestion.index == 0


def test_progress_bar_and_logging(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO, logger="lrfinder"):
        tune_lr(bowl(1e-2), rates=RATES, budget_steps=4, progress=True)
    assert "race round 1/2: 5 rates x 1 steps, best 0.01" in caplog.text
    assert "race round 2/2: 2 rates x 4 steps" in caplog.text
    assert "race" in capsys.readouterr().err


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"trial": 3}, r"`trial` must be a callable trial\(lr, steps\).* Received: int"),
        (
            {"budget_steps": 0},
            r"`budget_steps` must be an integer of at least 1. Received: budget_steps=0",
        ),
        ({"min_steps": 0}, r"`min_steps` must be an integer of at least 1. Received: min_steps=0"),
        (
            {"min_steps": 9},
            r"`min_steps` must not exceed `budget_steps`. Received: min_steps=9, budget_steps=8",
        ),
        ({"rates": None}, r"`tune_lr` needs candidates: pass `result`"),
        (
            {"rates": [1e-3]},
            r"`rates` must be 2 or more finite rates above 0. Received: rates=\[0.001\]",
        ),
        ({"rates": [1e-3, -1.0]}, r"`rates` must be 2 or more finite rates above 0"),
        ({"rates": [1e-3, math.nan]}, r"`rates` must be 2 or more finite rates above 0"),
        ({"rates": ["a", "b"]}, r"`rates` must be 2 or more finite rates above 0"),
        ({"rates": [1e-3, 1e-3]}, r"`rates` must be distinct. Received: rates=\[0.001, 0.001\]"),
        (
            {"step": lambda lr: 1.0},
            r"Pass `step` \(to run a range test\) or `result`/`rates`, not both",
        ),
        ({"num_steps": 50}, r"Range-test options need `step`. Received: num_steps"),
        (
            {"for_schedule": None},
            r"`for_schedule` must be a schedule's name .* Received: for_schedule=None",
        ),
        (
            {"rounds": (5, 1.0)},
            r"`rounds` must be \(count, fraction\) pairs, e.g. \(\(5, 0.25\), \(2, 1.0\)\)",
        ),
        ({"rounds": ((4, 0.5), (2, 1.0))}, r"`rounds` must start with every candidate \(5\)"),
        ({"rounds": ((5, 0.5), (6, 1.0))}, r"and never add any back: counts that do not rise"),
        ({"rounds": ((5, 0.5), (0, 1.0))}, r"`count of a round` must be an integer of at least 1"),
        (
            {"rounds": ((5, 0.5), (2, 0.5))},
            r"The fractions of `rounds` must rise, each above 0 and at most 1.0",
        ),
        (
            {"rounds": ((5, 0.25), (2, 1.5))},
            r"The fractions of `rounds` must rise, each above 0 and at most 1.0",
        ),
        (
            {"rounds": ((5, 0.0), (2, 1.0))},
            r"The fractions of `rounds` must rise, each above 0 and at most 1.0",
        ),
        (
            {"rounds": ((5, "1"),)},
            r"The fractions of `rounds` must rise, each above 0 and at most 1.0",
        ),
        ({"rounds": ()}, r"`rounds` must start with every candidate"),
        ({"widen": -1}, r"`widen` must be an integer of at least 0. Received: widen=-1"),
        ({"widen": 1.5}, r"`widen` must be an integer of at least 0. Received: widen=1.5"),
    ],
)
def test_tune_lr_checks_its_arguments(options: dict, match: str) -> None:
    kwargs: dict = {"trial": bowl(1e-2), "rates": RATES, "budget_steps": 8, "progress": False}
    kwargs.update(options)
    with pytest.raises(LRFinderError, match=match):
        tune_lr(**kwargs)


def test_a_trial_must_return_a_number() -> None:
    with pytest.raises(
        LRFinderError,
        match=r"`trial` must return the held-out loss as a number. Received: NoneType from trial\(lr=0.0001, steps=1\)",
    ):
        tune_lr(lambda lr, steps: None, rates=RATES, budget_steps=4, progress=False)  # type: ignore[arg-type, return-value]


# -- the result ---------------------------------------------------------------------------------
def some_result(with_range_test: bool = True) -> TuneResult:
    curve = sigmoid_curve(centre=-2.0, noise=0.02)
    trial = bowl(0.02, diverge=0.1, noise=0.01)
    if with_range_test:
        return tune_lr(trial, result=curve, budget_steps=40, progress=False)
    return tune_lr(trial, rates=RATES, budget_steps=40, progress=False)


@pytest.mark.parametrize("with_range_test", [True, False])
def test_save_and_load_round_trip(tmp_path: Path, with_range_test: bool) -> None:
    tuned = some_result(with_range_test)
    assert any(math.isnan(v) for v in tuned.rounds[-1].losses)
    assert math.inf in tuned.rounds[0].losses or not with_range_test
    path = tuned.save(tmp_path / "race.json")
    json.loads(path.read_text())  # strict JSON: no bare NaN or Infinity
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()
    loaded = TuneResult.load(path)
    assert loaded == tuned and loaded is not tuned
    assert loaded.steps_spent == tuned.steps_spent and str(loaded) == str(tuned)
    assert TuneResult.from_dict(tuned.to_dict()) == tuned
    assert loaded != some_result(not with_range_test)


@pytest.mark.parametrize("with_range_test", [True, False])
def test_copies_and_other_processes(with_range_test: bool) -> None:
    tuned = some_result(with_range_test)
    for copied in (copy.deepcopy(tuned), pickle.loads(pickle.dumps(tuned))):
        assert copied == tuned and copied is not tuned
        assert copied.settings == tuned.settings and copied.range_test == tuned.range_test


def corrupt(**changes: object) -> dict:
    data = some_result().to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], r"A race must be a JSON object. Received a list"),
        (
            {"format": "lrfinder.RangeTestResult"},
            r"Not an lrfinder race: `format` must be 'lrfinder.TuneResult'",
        ),
        (corrupt(version=0), r"`version` must be a positive integer. Received: 0"),
        (corrupt(version=True), r"`version` must be a positive integer. Received: True"),
        (corrupt(version=99), r"written by a newer lrfinder \(format version 99"),
        (
            {"format": "lrfinder.TuneResult", "version": 1},
            r"A race needs the fields lr, rates, rounds",
        ),
        (
            corrupt(rounds={"steps": 1}),
            r"`rounds` must be a list of objects with `steps` and `losses`",
        ),
        (
            corrupt(rounds=[{"steps": 1}]),
            r"`rounds` must be a list of objects with `steps` and `losses`",
        ),
        (
            corrupt(rounds=[{"steps": 1, "losses": ["x"] * 5}]),
            r"`losses` must be a list of numbers",
        ),
        (
            corrupt(rounds=[{"steps": 0, "losses": [1.0] * 5}]),
            r"Invalid race: A round's `steps` must be an integer of at least 1",
        ),
        (
            corrupt(rounds=[{"steps": 1, "losses": [1.0] * 4}]),
            r"Invalid race: Every round needs one loss per rate \(5\)",
        ),
        (
            corrupt(rounds=[{"steps": 1, "losses": [1.0, 2, 3, 4, "-inf"]}]),
            r"`losses` must be a list of numbers",
        ),
        (corrupt(rates=[1.0, True]), r"`rates` must be a list of numbers"),
        (
            corrupt(rates=[0.1, 0.01, 1e-3, 1e-4, 1e-5]),
            r"Invalid race: `rates` must be ascending and distinct",
        ),
        (corrupt(lr=0.5), r"Invalid race: `lr` must be one of `rates`. Received: lr=0.5"),
        (corrupt(lr="0.5"), r"`lr` must be a number. Received: '0.5'"),
        (
            corrupt(confidence=1.5),
            r"Invalid race: `confidence` must be in 0..1. Received: confidence=1.5",
        ),
        (
            corrupt(budget_steps=2.5),
            r"Invalid race: `budget_steps` must be an integer of at least 1. Received: 2.5",
        ),
        (corrupt(for_schedule=""), r"Invalid race: `for_schedule` must be a schedule's name"),
        (corrupt(warnings="none"), r"`warnings` must be a JSON list"),
        (corrupt(settings=[]), r"`settings` must be a JSON dict"),
        (corrupt(range_test={"format": "x"}), r"Not an lrfinder result"),
    ],
)
def test_from_dict_checks_every_field(data: object, match: str) -> None:
    with pytest.raises(ResultFileError, match=match):
        TuneResult.from_dict(data)


def test_load_refuses_bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResultFileError, match="Cannot read"):
        TuneResult.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultFileError, match="is not valid JSON"):
        TuneResult.load(tmp_path / "bad.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ResultFileError, match="is not a text file"):
        TuneResult.load(tmp_path / "binary.json")
    path = some_result().save(tmp_path / "race.json")
    monkeypatch.setattr(race_result_module, "MAX_FILE_BYTES", 10)
    with pytest.raises(
        ResultFileError, match=r"larger than any race: more than 10 bytes were read"
    ):
        TuneResult.load(path)


def test_the_result_checks_its_fields() -> None:
    good = {
        "lr": 1e-2,
        "rates": (1e-3, 1e-2),
        "rounds": (RaceRound(steps=4, losses=(1.0, 0.5)),),
        "budget_steps": 4,
        "reason": "r",
        "confidence": 0.5,
    }
    assert TuneResult(**good).trainings == 2.0  # type: ignore[arg-type]
    for change, match in [
        ({"rates": (1e-3, -1.0)}, r"`rates` must be finite numbers above 0"),
        ({"rounds": ()}, r"`rounds` must hold one RaceRound or more"),
        (
            {"range_test": "curve"},
            r"`range_test` must be a RangeTestResult or None. Received a str",
        ),
        ({"settings": {"f": object()}}, r"`settings` must be plain JSON data"),
        ({"settings": {"f": math.nan}}, r"`settings` must be plain JSON data"),
    ]:
        with pytest.raises(LRFinderError, match=match):
            TuneResult(**{**good, **change})  # type: ignore[arg-type]
    with pytest.raises(
        LRFinderError, match=r"A round's losses must be numbers. Received: \('x',\)"
    ):
        RaceRound(steps=1, losses=("x",))  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"A round's losses may not be -inf"):
        RaceRound(steps=1, losses=(-math.inf,))
    with pytest.raises(
        LRFinderError, match=r"A round's `steps` must be an integer of at least 1. Received: True"
    ):
        RaceRound(steps=True, losses=(1.0,))


@pytest.mark.parametrize("name", ["lrfinder._tuning._race", "lrfinder._tuning._candidates"])
def test_docstring_examples(name: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(name))
    assert failed == 0 and attempted > 0


def test_public_names() -> None:
    for name in ("tune_lr", "TuneResult", "candidates"):
        assert name in lrfinder.__all__ and hasattr(lrfinder, name)


# -- never crashes ------------------------------------------------------------------------------
outputs = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]),
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(outputs, min_size=1, max_size=30),
    n=st.integers(min_value=2, max_value=7),
    budget=st.integers(min_value=1, max_value=50),
)
def test_tune_lr_never_crashes_on_odd_trial_outputs(
    values: list[float], n: int, budget: int
) -> None:
    calls: list[int] = []

    def trial(lr: float, steps: int) -> float:
        calls.append(steps)
        return values[len(calls) % len(values)]

    try:
        tuned = tune_lr(
            trial, rates=np.logspace(-4, 0, n), budget_steps=budget, widen=2, progress=False
        )
    except NoSuggestionError as exc:
        assert "diverged" in str(exc)
        return
    assert tuned.lr in tuned.rates and 0.0 <= tuned.confidence <= 1.0
    assert n <= len(tuned.rates) <= n + (2 if n > 2 else 0)
    assert tuned.steps_spent == sum(calls)
    assert TuneResult.from_dict(json.loads(json.dumps(tuned.to_dict()))) == tuned


@settings(max_examples=100, deadline=None)
@given(
    losses=st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=60
    ),
    span=st.floats(min_value=0.05, max_value=4.0),
    num=st.integers(min_value=2, max_value=9),
)
def test_candidates_never_crash_on_odd_curves(losses: list[float], span: float, num: int) -> None:
    lrs = np.logspace(-6, 1, len(losses))
    try:
        rates = candidates((lrs, losses), span=span, num=num)
    except NoSuggestionError:
        return
    finite = np.isfinite(losses)
    stop = len(losses) if finite.all() else int(np.argmin(finite))
    assert 2 <= len(rates) <= 2 * num - 1 and list(rates) == sorted(set(rates))
    assert lrs[0] <= rates[0] and rates[-1] <= lrs[stop - 1]
