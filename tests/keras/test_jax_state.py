"""On JAX, find_lr and the race's trials set each batch's rate without writing fit's jitted state
back into the variables, and read each loss one batch late: the same numbers as the ordinary way
(a callback that syncs every batch), with a sync only where fit itself does one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
if os.environ["KERAS_BACKEND"] != "jax":
    pytest.skip("the JAX trainer's own state", allow_module_level=True)
pytest.importorskip("jax")
keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

import lrfinder.keras  # noqa: E402
import lrfinder.schedules  # noqa: E402
from _keras_models import assert_same_state, mlp, state  # noqa: E402
from _mlp import BATCH  # noqa: E402
from _mlp import digits as load_digits  # noqa: E402
from lrfinder.keras import _find, _rates, _tune  # noqa: E402

SWEEP = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 35, "progress": False}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits(320)  # 10 batches: the sweep crosses epochs


@contextlib.contextmanager
def ordinary(model: keras.Model) -> Iterator[_rates.Rates]:
    yield _rates.Rates(model)


def syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time fit's state is written back into the variables."""
    calls: list[int] = []
    sync = keras.Model.jax_state_sync

    def counted(self: keras.Model) -> None:
        if getattr(self, "_jax_state", None) is not None and not self._jax_state_synced:
            calls.append(1)
        sync(self)

    monkeypatch.setattr(keras.Model, "jax_state_sync", counted)
    return calls


@pytest.mark.parametrize("metrics", [[], ["accuracy"]])
def test_find_lr_gives_the_curve_of_a_sync_every_batch(digits, metrics, monkeypatch) -> None:
    x, y = digits
    fast = lrfinder.keras.find_lr(mlp(metrics=metrics), x, y, batch_size=BATCH, **SWEEP)
    monkeypatch.setattr(_find, "rate_setter", ordinary)
    slow = lrfinder.keras.find_lr(mlp(metrics=metrics), x, y, batch_size=BATCH, **SWEEP)
    assert fast.steps == slow.steps > 10
    np.testing.assert_array_equal(fast.lrs, slow.lrs)
    np.testing.assert_array_equal(fast.losses, slow.losses)
    assert fast.stop_reason == slow.stop_reason


def test_find_lr_syncs_once_an_epoch_not_once_a_batch(digits, monkeypatch) -> None:
    x, y = digits
    model = mlp()
    model.fit(x[:BATCH], y[:BATCH], verbose=0)  # built, with a compiled step to keep
    step = model.train_function
    before = state(model)
    calls = syncs(monkeypatch)
    result = lrfinder.keras.find_lr(model, x, y, batch_size=BATCH, **SWEEP)
    epochs = -(-result.steps // 10)
    assert result.steps > 20 and len(calls) <= epochs + 1  # fit's own, at each epoch's end
    assert_same_state(before, state(model))
    assert model.train_function is step and "_get_jax_state" not in vars(model)
    monkeypatch.setattr(_find, "rate_setter", ordinary)
    calls.clear()
    lrfinder.keras.find_lr(model, x, y, batch_size=BATCH, **SWEEP)
    assert len(calls) >= result.steps  # what this saves: one a batch


def test_the_stop_is_one_batch_late_and_undone(digits) -> None:
    x, y = digits
    model = mlp()
    model.optimizer.build(model.trainable_variables)
    before = state(model)
    result = lrfinder.keras.find_lr(model, x, y, batch_size=BATCH, start_lr=1e-2, end_lr=1e4,
                                    num_steps=60, progress=False)  # fmt: skip
    assert result.stop_reason in ("diverged", "nonfinite") and result.steps < 60
    assert_same_state(before, state(model))


def test_race_trials_score_as_with_a_sync_every_batch(digits, monkeypatch) -> None:
    x, y = digits
    race = {"validation_data": (x[-64:], y[-64:]), "total_steps": 16, "batch_size": BATCH}
    race.update(rates=[1e-3, 1e-2, 1e-1, 30.0], progress=False)  # the last one blows up
    calls = syncs(monkeypatch)
    fast = lrfinder.keras.tune_lr(mlp(), x[:-64], y[:-64], **race)
    fast_syncs = len(calls)
    monkeypatch.setattr(_tune, "rate_setter", ordinary)
    calls.clear()
    slow = lrfinder.keras.tune_lr(mlp(), x[:-64], y[:-64], **race)
    assert [r.losses for r in fast.rounds] == [r.losses for r in slow.rounds]
    assert fast.lr == slow.lr and fast.trial_steps == slow.trial_steps
    assert fast_syncs * 3 < len(calls)  # fast: at the end of each epoch (8 batches) only


class ReadsTheRate(keras.callbacks.Callback):
    """Another callback after the range test's, reading the model (so syncing) every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: object = None) -> None:
        self.rates.append(float(np.asarray(self.model.optimizer.learning_rate)))


def test_the_callback_in_your_fit_beside_a_callback_that_reads_the_model(
    digits, monkeypatch
) -> None:
    x, y = digits
    found = lrfinder.keras.find_lr(mlp(), x, y, batch_size=BATCH, shuffle=False, **SWEEP)
    model = mlp()
    test, reader = lrfinder.keras.RangeTestCallback(**SWEEP), ReadsTheRate()
    with test:
        model.fit(x, y, batch_size=BATCH, epochs=5, shuffle=False, verbose=0,
                  callbacks=[test, reader])  # fmt: skip
    assert test.result is not None
    np.testing.assert_array_equal(test.result.losses, found.losses)
    np.testing.assert_allclose(reader.rates[: found.steps], found.lrs, rtol=1e-6)  # float32
    assert "_get_jax_state" not in vars(model) and "jax_state_sync" not in vars(model)
    alone = lrfinder.keras.RangeTestCallback(**SWEEP)
    model = mlp()
    calls = syncs(monkeypatch)
    with alone:
        model.fit(x, y, batch_size=BATCH, epochs=5, shuffle=False, verbose=0, callbacks=[alone])
    assert alone.result is not None
    np.testing.assert_array_equal(alone.result.losses, found.losses)
    assert len(calls) <= -(-found.steps // 10) + 1  # alone, no sync a batch: fit's own only


def test_schedule_callback_sets_each_rate_without_a_sync_a_batch(digits, monkeypatch) -> None:
    x, y = digits
    schedule = lrfinder.schedules.one_cycle(0.05, total_steps=30)

    def train(*others: keras.callbacks.Callback) -> tuple[list[np.ndarray], int]:
        model, calls = mlp(), syncs(monkeypatch)
        callbacks = [lrfinder.keras.ScheduleCallback(schedule), *others]
        model.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
        assert "jax_state_sync" not in vars(model) and "_get_jax_state" not in vars(model)
        return state(model), len(calls)

    fast, fast_syncs = train()
    reader = ReadsTheRate()  # reads the rate the schedule set, so syncs every batch
    read, _ = train(reader)
    monkeypatch.setattr(lrfinder.keras._schedule, "rate_setter", ordinary)
    slow, slow_syncs = train()
    assert fast_syncs <= 4 < 30 <= slow_syncs  # 30 batches in 3 epochs
    assert_same_state(fast, slow)
    assert_same_state(read, slow)
    np.testing.assert_allclose(reader.rates, [schedule(i) for i in range(30)], rtol=1e-6)


def test_a_snapshot_restored_in_one_transfer_survives_the_training_after_it(digits) -> None:
    x, y = digits
    model = mlp()
    model.fit(x[:BATCH], y[:BATCH], verbose=0)
    snapshot = _find._Snapshot(model)
    kept = [value.copy() for _, value in snapshot.values]
    for _ in range(3):  # fit donates the variables' buffers: none may be the snapshot's
        snapshot.restore()
        model.fit(x, y, batch_size=BATCH, verbose=0)
    assert all(np.array_equal(a, b) for a, (_, b) in zip(kept, snapshot.values, strict=True))
    snapshot.restore()
    for (variable, _), value in zip(snapshot.values, kept, strict=True):
        np.testing.assert_array_equal(np.asarray(variable.value), value)
