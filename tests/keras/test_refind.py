"""lrfinder.keras.RefindCallback inside model.fit, on the backend KERAS_BACKEND names.

Each test that compares runs trains a second copy of the model (same initial weights, same
batches in the same order) at the rates the callback found, set by a plain Keras callback, and
asks for bit-for-bit equal weights, optimizer variables and logs: a re-run that left any trace
(a weight, a moment, the step counter, a metric, a random state, fit's own bookkeeping) or
set a rate other than the one it recorded shows up as a difference.
"""

from __future__ import annotations

import doctest
import math
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"])
keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

import lrfinder  # noqa: E402
import lrfinder.keras._refind  # noqa: E402
from _keras_models import assert_same_state, host, mlp, state  # noqa: E402
from _mlp import BATCH  # noqa: E402
from _mlp import digits as load_digits  # noqa: E402
from lrfinder import LRFinderError, RefindPolicy, schedules  # noqa: E402
from lrfinder.keras import RefindCallback  # noqa: E402

# Short sweeps keep the tests fast; the initial one still spans 1e-5..10.
SHORT = {"num_steps": 12, "initial_start_lr": 1e-5, "initial_num_steps": 30}
LOSS_KEYS = ("loss", "val_loss")


def test_runs_on_the_requested_backend() -> None:
    assert keras.config.backend() == os.environ["KERAS_BACKEND"]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    x, y = load_digits(416)
    return x[:320], y[:320], x[320:], y[320:]  # 10 training batches, 3 validation batches


def fit(
    model: keras.Model, data, callbacks: list, epochs: int, shuffle: bool = False
) -> keras.callbacks.History:
    x, y, xv, yv = data
    return model.fit(
        x, y, batch_size=BATCH, epochs=epochs, shuffle=shuffle, validation_data=(xv, yv),
        callbacks=callbacks, verbose=0,
    )  # fmt: skip


def refind(data, policy: RefindPolicy, **kwargs) -> RefindCallback:
    x, y, _, _ = data
    return RefindCallback(x, y, batch_size=BATCH, policy=policy, **kwargs)


class EpochRates(keras.callbacks.Callback):
    """Sets the rate by hand when each epoch begins. (keras.callbacks.LearningRateScheduler
    reads the rate back through numpy, which warns on the torch backend.)"""

    def __init__(self, rates: list[float]) -> None:
        super().__init__()
        self.rates = rates

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate = self.rates[epoch]  # self.model: synced on JAX


class StepRates(keras.callbacks.Callback):
    """Sets the rate by hand before each batch: ``rate(step)``, counting batches from 0."""

    def __init__(self, rate) -> None:
        super().__init__()
        self.rate, self.step = rate, 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate = self.rate(self.step)  # self.model: synced on JAX
        self.step += 1


def piecewise(records) -> object:
    """The rate each record set, from the step it ran at onwards."""
    return lambda step: [r.new_lr for r in records if r.step <= step][-1]


def assert_same_training(a: keras.Model, b: keras.Model, ha, hb) -> None:
    assert_same_state(state(a), state(b))
    for key in LOSS_KEYS:
        assert ha.history[key] == hb.history[key], key


def test_epoch_reruns_train_exactly_as_the_same_rates_set_by_hand(data) -> None:
    policy = RefindPolicy(every_epochs=1, **SHORT)
    callback = refind(data, policy)
    model = mlp(dropout=0.2)  # a seeded dropout: the re-runs must not move its random state
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05)
    history = fit(model, data, [early, callback], epochs=3)
    records = callback.history
    assert [(r.trigger, r.epoch) for r in records] == [("initial", 0), ("epochs", 1), ("epochs", 2)]
    rates = [r.new_lr for r in records]
    # The re-runs moved the rate (on some backends one re-run lands where the rate already is).
    assert len(set(rates)) >= 2
    for r in records[1:]:  # bounded by the policy: smoothed, at most x2 or /2
        # A re-run whose curve has no suggestion keeps the rate.
        expected = r.old_lr if r.found_lr is None else policy.bound(r.old_lr, r.found_lr)
        assert r.new_lr == expected
    assert callback.steps_spent == sum(r.steps for r in records) > 30

    by_hand = mlp(dropout=0.2)
    early_hand = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05)
    hand = fit(by_hand, data, [early_hand, EpochRates(rates)], epochs=3)
    assert_same_training(model, by_hand, history, hand)
    assert (early.wait, early.best, early.stopped_epoch) == (
        early_hand.wait, early_hand.best, early_hand.stopped_epoch
    )  # fmt: skip
    # The trainer's own log: every epoch's logs, so History, carry the rates and the cost.
    assert history.history["lrfinder/lr"] == rates
    found = [math.nan if r.found_lr is None else r.found_lr for r in records]  # logged as NaN
    np.testing.assert_array_equal(history.history["lrfinder/found_lr"], found)
    assert history.history["lrfinder/steps"] == [float(r.steps) for r in records]
    assert model.history is history
    assert model.stop_training == bool(early.stopped_epoch)  # only EarlyStopping stops fit


def test_step_reruns_train_exactly_as_the_same_rates_set_by_hand(data) -> None:
    policy = RefindPolicy(every_epochs=None, every_steps=7, max_up=1.0, **SHORT)
    callback = refind(data, policy)
    model = mlp()
    # fit shuffles with the random states the re-runs use and put back
    history = fit(model, data, [callback], epochs=2, shuffle=True)
    records = callback.history
    # 20 steps: re-runs after steps 7 and 14, none after the last step
    assert [(r.trigger, r.step) for r in records] == [("initial", 0), ("steps", 7), ("steps", 14)]
    for r in records[1:]:  # max_up=1: a re-run never raises the rate
        assert r.new_lr == policy.bound(r.old_lr, r.found_lr) <= r.old_lr
    by_hand = mlp()
    hand = fit(by_hand, data, [StepRates(piecewise(records))], epochs=2, shuffle=True)
    assert_same_training(model, by_hand, history, hand)
    assert history.history["lrfinder/steps"] == [
        float(records[0].steps + records[1].steps), float(records[2].steps)
    ]  # fmt: skip


def test_a_schedule_keeps_its_shape_around_each_found_peak(data) -> None:
    shape = schedules.one_cycle(0.01, total_steps=30)
    policy = RefindPolicy(every_epochs=1, **SHORT)
    callback = refind(data, policy, schedule=shape, initial=False, peak=0.01)
    model = mlp(keras.optimizers.SGD(0.5, momentum=0.9))  # 0.5: the schedule sets the rate
    history = fit(model, data, [callback], epochs=3)
    records = callback.history
    assert [(r.trigger, r.step) for r in records] == [("epochs", 10), ("epochs", 20)]
    assert records[0].old_lr == 0.01  # initial=False: the schedule's own peak first
    assert len({0.01, *(r.new_lr for r in records)}) == 3  # each re-run moved the peak
    peaks = [0.01, records[0].new_lr, records[1].new_lr]
    by_hand = mlp(keras.optimizers.SGD(0.5, momentum=0.9))
    hand = StepRates(lambda step: float(shape(step)) * peaks[step // 10] / 0.01)
    assert_same_training(model, by_hand, history, fit(by_hand, data, [hand], epochs=3))
    assert history.history["lrfinder/lr"] == peaks
    assert math.isnan(history.history["lrfinder/found_lr"][0])


class Probe(keras.callbacks.Callback):
    """Records the state around the callbacks that follow it in the list."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen

    def snap(self) -> None:
        model = self.model
        variables = [*model.variables, *model.optimizer.variables, *model.metrics_variables]
        other = [host(v) for v in variables if "learning_rate" not in v.path]
        modes = [m.training for m in model.modules()] if hasattr(model, "modules") else []
        self.seen.append((other, host(model.optimizer.learning_rate), model.stop_training, modes))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.snap()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.snap()


def test_each_rerun_leaves_every_variable_but_the_rate_as_it_was(data) -> None:
    policy = RefindPolicy(every_epochs=1, every_steps=4, **SHORT)
    callback = refind(data, policy, initial=False)
    before, after = [], []
    model = mlp(dropout=0.2)
    fit(model, data, [Probe(before), callback, Probe(after)], epochs=2)
    assert [(r.trigger, r.step) for r in callback.history] == [
        ("steps", 4), ("steps", 8), ("epochs", 10), ("steps", 12), ("steps", 16)
    ]  # fmt: skip
    assert len(before) == len(after) == 2 + 20
    changed = 0
    for (vars_a, lr_a, stop_a, modes_a), (vars_b, lr_b, stop_b, modes_b) in zip(
        before, after, strict=True
    ):
        assert_same_state(vars_a, vars_b)  # weights, moments, step, metrics, seed state
        assert (stop_a, modes_a) == (stop_b, modes_b)
        changed += lr_a != lr_b
    assert changed == sum(r.new_lr != r.old_lr for r in callback.history) > 0
    assert float(host(model.optimizer.learning_rate)) == pytest.approx(callback.refinder.lr)


def test_plateau_policy_reruns_when_the_validation_loss_stalls(data) -> None:
    # min_delta=0.5: only halving the validation loss counts as progress
    policy = RefindPolicy(every_epochs=None, patience=1, min_delta=0.5, **SHORT)
    callback = refind(data, policy, initial=False)
    history = fit(mlp(), data, [callback], epochs=4)
    replay = lrfinder.Refinder(policy, lr=1e-3)  # the same policy over the logged losses
    val = history.history["val_loss"]
    expected = [e for e, m in enumerate(val[:-1], 1) if replay.epoch_end(e, metric=m)]
    assert expected  # the setup does stall
    assert [r.epoch for r in callback.history] == expected
    assert {r.trigger for r in callback.history} == {"plateau"}


def test_a_second_fit_keeps_the_found_rate(data) -> None:
    callback = refind(data, RefindPolicy(every_epochs=None, **SHORT))
    model = mlp()
    fit(model, data, [callback], epochs=1)
    found = callback.refinder.lr
    model.optimizer.learning_rate = 0.5
    history = fit(model, data, [callback], epochs=1)
    assert [r.trigger for r in callback.history] == ["initial"]  # no second initial test
    assert float(host(model.optimizer.learning_rate)) == pytest.approx(found)
    assert history.history["lrfinder/steps"] == [0.0]


def test_bad_settings_are_explained(data) -> None:
    x, y, _, _ = data
    with pytest.raises(LRFinderError, match=r"pass `x` \(with `y`\) or `dataset`"):
        RefindCallback()
    with pytest.raises(LRFinderError, match=r"must be re-iterable .* Received: generator"):
        RefindCallback(dataset=((x, y) for _ in range(3)))
    decay = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.9)
    with pytest.raises(LRFinderError, match=r"LearningRateSchedule.*RefindCallback\(schedule="):
        fit(mlp(keras.optimizers.SGD(decay)), data, [refind(data, RefindPolicy())], epochs=1)
    policy = RefindPolicy(every_epochs=None, patience=1, **SHORT)
    callback = refind(data, policy, initial=False, monitor="missing")
    with pytest.raises(LRFinderError, match=r"`monitor`=.missing., which was not reported"):
        fit(mlp(), data, [callback], epochs=2)


@pytest.mark.skipif(
    os.environ["KERAS_BACKEND"] == "torch", reason="Keras on torch refuses steps_per_execution > 1"
)
def test_steps_per_execution_above_one(data) -> None:
    policy = RefindPolicy(every_epochs=None, every_steps=3, **SHORT)
    callback = refind(data, policy)
    model = mlp(steps_per_execution=2)
    history = fit(model, data, [callback], epochs=1)
    # callbacks see steps 2, 4, 6, 8, 10: 3 and 6 fall inside, 9 in the last (no re-run)
    assert [r.step for r in callback.history] == [0, 4, 6]
    by_hand = mlp(steps_per_execution=2)
    rates = piecewise(callback.history)
    assert_same_training(model, by_hand, history, fit(by_hand, data, [StepRates(lambda s: rates(2 * s))], epochs=1))  # fmt: skip


def test_module_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.keras._refind, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0
