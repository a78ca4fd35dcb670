"""lrfinder.keras.tune_lr on the backend KERAS_BACKEND names: the race through fit and evaluate,
every trial from one snapshot, nothing left behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"])
keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

import lrfinder.keras  # noqa: E402
from _keras_models import assert_same_state, mlp, state  # noqa: E402
from _mlp import BATCH  # noqa: E402
from _mlp import digits as load_digits  # noqa: E402
from lrfinder import LRFinderError, TuneResult  # noqa: E402

TOTAL = 20


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(480)
    return x[:384], y[:384], x[384:], y[384:]


def test_the_race_restores_everything_and_picks_the_best_final_score(digits) -> None:
    x, y, xv, yv = digits
    model = mlp()
    model.optimizer.build(model.trainable_variables)  # so `state` sees every variable
    before = state(model)
    tuned = lrfinder.keras.tune_lr(
        model,
        x,
        y,
        validation_data=(xv, yv),
        total_steps=TOTAL,
        batch_size=BATCH,
        start_lr=1e-5,
        end_lr=10,
        num_steps=40,
        progress=False,
    )
    assert isinstance(tuned, TuneResult) and tuned.settings["framework"] == "keras"
    assert tuned.settings["backend"] == keras.config.backend()
    assert tuned.steps_spent == tuned.range_test.steps + tuned.trial_steps
    final = tuned.rounds[-1]
    assert final.losses[tuned.rates.index(tuned.lr)] == min(v for v in final.losses if v == v)
    assert_same_state(before, state(model))


def test_a_score_is_training_that_rate_from_the_start_then_evaluate(digits) -> None:
    x, y, xv, yv = digits
    model = mlp()
    tuned = lrfinder.keras.tune_lr(
        model, x, y, validation_data=(xv, yv), total_steps=TOTAL, batch_size=BATCH,
        shuffle=False, rates=[1e-3, 1e-2], rounds=[(2, 1.0)], progress=False,
    )  # fmt: skip
    for lr, score in zip(tuned.rates, tuned.rounds[0].losses, strict=True):
        fresh = mlp(keras.optimizers.Adam(lr))
        # The trial's 20 batches: one pass over the 12 batches of x, then the first 8 again.
        xs, ys = np.concatenate([x, x])[: TOTAL * BATCH], np.concatenate([y, y])[: TOTAL * BATCH]
        fresh.fit(xs, ys, batch_size=BATCH, shuffle=False, verbose=0)
        expected = fresh.evaluate(xv, yv, batch_size=BATCH, verbose=0, return_dict=True)["loss"]
        assert score == pytest.approx(float(expected), rel=1e-4), lr


def test_keep_winner_and_the_held_out_split(digits) -> None:
    x, y, _, _ = digits
    model = mlp()
    start = state(model)
    tuned = lrfinder.keras.tune_lr(
        model, x, y, total_steps=TOTAL, batch_size=BATCH, rates=[1e-3, 1e-2],
        keep="winner", progress=False,
    )  # fmt: skip
    assert tuned.settings["held_out"] == "split" and tuned.settings["keep"] == "winner"
    moved = [not np.array_equal(a, b) for a, b in zip(start, state(model), strict=False)]  # built
    assert any(moved)
    held = model.evaluate(x[-38:], y[-38:], batch_size=BATCH, verbose=0, return_dict=True)["loss"]
    assert float(held) == pytest.approx(min(tuned.rounds[-1].losses), rel=1e-5)


def test_bad_arguments_are_refused(digits) -> None:
    x, y, _, _ = digits
    with pytest.raises(LRFinderError, match=r"`keep` must be 'initial' or 'winner'"):
        lrfinder.keras.tune_lr(mlp(), x, y, total_steps=TOTAL, keep="last")
    with pytest.raises(LRFinderError, match=r"With `dataset`, pass `validation_data`"):
        lrfinder.keras.tune_lr(mlp(), dataset=[(x, y)], total_steps=TOTAL)
    with pytest.raises(LRFinderError, match=r"Received: for_schedule='steps'"):
        lrfinder.keras.tune_lr(mlp(), x, y, total_steps=TOTAL, for_schedule="steps")
    with pytest.raises(LRFinderError, match=r"Received: shorten='cut'"):
        lrfinder.keras.tune_lr(mlp(), x, y, total_steps=TOTAL, shorten="cut")


def test_a_truncated_trial_runs_the_first_steps_of_the_schedule_over_total_steps(digits) -> None:
    x, y, xv, yv = digits
    lengths = {}
    for shorten in ("compress", "truncate"):
        asked: list[int] = []

        def shape(lr: float, steps: int, asked: list[int] = asked):  # the schedule's length
            asked.append(steps)
            return lambda i: lr

        tuned = lrfinder.keras.tune_lr(
            mlp(), x, y, validation_data=(xv, yv), total_steps=TOTAL, batch_size=BATCH,
            rates=[1e-3, 1e-2], rounds=[(2, 0.5), (1, 1.0)], for_schedule=shape, shorten=shorten,
            progress=False,
        )  # fmt: skip
        assert tuned.settings["shorten"] == shorten
        assert not any(r.resumed for r in tuned.rounds)  # every Keras trial starts over
        lengths[shorten] = asked[1:]  # the first call only checks the shape before the race
    assert lengths == {"compress": [10, 10, 20], "truncate": [20, 20, 20]}


def test_by_default_a_one_cycle_race_stops_its_finalists_at_nine_tenths_unless_kept(digits) -> None:
    x, y, xv, yv = digits
    for keep, finish in (("initial", 0.9), ("winner", 1.0)):
        tuned = lrfinder.keras.tune_lr(
            mlp(), x, y, validation_data=(xv, yv), total_steps=TOTAL, batch_size=BATCH,
            rates=[1e-3, 1e-2], for_schedule="one_cycle", keep=keep, progress=False,
        )  # fmt: skip
        assert tuned.settings["shorten"] == "truncate"
        assert tuned.settings["rounds"] == [[2, finish]]
        assert tuned.rounds[-1].steps == round(finish * TOTAL)


def test_a_rate_added_past_an_edge_trains_from_the_snapshot(digits) -> None:
    x, y, xv, yv = digits
    model = mlp()
    model.optimizer.build(model.trainable_variables)
    before = state(model)
    tuned = lrfinder.keras.tune_lr(
        model,
        x,
        y,
        validation_data=(xv, yv),
        total_steps=TOTAL,
        batch_size=BATCH,
        rates=[1e-7, 1e-6, 1e-5],  # far too low: the loss still falls toward the highest
        rounds=[(3, 1.0)],
        widen=1,
        progress=False,
    )
    assert tuned.rates == pytest.approx([1e-7, 1e-6, 1e-5, 1e-4], rel=1e-9)
    assert tuned.lr == tuned.rates[-1] and tuned.settings["widen"] == 1
    assert_same_state(before, state(model))
