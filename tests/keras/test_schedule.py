"""Keras 3 schedule adapters, checked by training: the weight moves by exactly the scheduled rate.

Keras reads KERAS_BACKEND once, at import. ``make test`` runs this module under the torch backend
(the default set here) and again with KERAS_BACKEND=jax, where ``fit`` runs under ``jax.jit``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from lrfinder import LRFinderError, schedules

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"])
keras = pytest.importorskip("keras")
from lrfinder.keras._schedule import ScheduleCallback, ScheduleLR  # noqa: E402

STEPS = 60
SCHEDULE = schedules.one_cycle(0.05, total_steps=STEPS, three_phase=True)


def test_runs_on_the_requested_backend() -> None:
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]


def expected(schedule: schedules.Schedule, steps: int) -> np.ndarray:
    return schedules.tabulate(schedule, steps).astype(np.float32)


def model_with(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    """One weight w, loss w * x with x = +-1: each SGD step moves w by exactly the step's rate."""
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=optimizer, loss=lambda y_true, y_pred: keras.ops.sum(y_pred))
    return model


class Weights(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen.append(kernel(self.model))


def kernel(model: keras.Model) -> float:
    return float(keras.ops.stop_gradient(model.layers[0].kernel.value)[0, 0])


def fit(model: keras.Model, steps: int, callbacks: list) -> np.ndarray:
    """The rate of each step, read back from the weight's moves. The sign of x alternates, so
    the weight stays near 0, where float32 resolves each move finely."""
    record = Weights()
    x = np.where(np.arange(steps) % 2 == 0, 1.0, -1.0).astype("float32")[:, None]
    before = kernel(model)
    model.fit(
        x, x, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[*callbacks, record]
    )
    weights = np.array([before, *record.seen], dtype=np.float64)
    return -np.diff(weights) * x[:, 0]


# The weight is float32 and stays below 0.05 in size, so each move is known to 1e-8.
ATOL = 1e-8


def test_schedule_values_are_the_table_and_hold_at_the_end() -> None:
    lr = ScheduleLR(SCHEDULE, steps=STEPS)
    got = [float(lr(i)) for i in range(STEPS + 5)]
    want = expected(SCHEDULE, STEPS)
    np.testing.assert_array_equal(got[:STEPS], want)
    assert got[STEPS:] == [want[-1]] * 5


def test_fit_with_the_schedule_follows_it() -> None:
    model = model_with(keras.optimizers.SGD(learning_rate=ScheduleLR(SCHEDULE, steps=STEPS)))
    np.testing.assert_allclose(fit(model, STEPS, []), expected(SCHEDULE, STEPS), rtol=0, atol=ATOL)


def test_serializes_with_get_config() -> None:
    lr = ScheduleLR(SCHEDULE, steps=STEPS)
    again = ScheduleLR.from_config(lr.get_config())
    assert again.values == lr.values == list(schedules.tabulate(SCHEDULE, STEPS))
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    assert isinstance(revived, ScheduleLR) and revived.values == lr.values
    optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    saved = optimizer.get_config()["learning_rate"]
    assert saved["registered_name"] == "lrfinder>ScheduleLR"
    assert restored.get_config()["learning_rate"] == saved


def test_callback_follows_any_schedule_across_fit_calls() -> None:
    schedule = schedules.cosine_warm_restarts(0.04, T_0=7, T_mult=2)
    model = model_with(keras.optimizers.SGD(learning_rate=0.0))
    callback = ScheduleCallback(schedule)
    first = fit(model, 25, [callback])
    # A second fit continues from the optimizer's step count, mid-cycle.
    second = fit(model, 20, [callback])
    np.testing.assert_allclose(
        np.concatenate([first, second]), expected(schedule, 45), rtol=0, atol=ATOL
    )


def test_bad_arguments() -> None:
    with pytest.raises(LRFinderError, match=r"`steps` is needed .* Received: steps=None"):
        ScheduleLR(SCHEDULE)
    with pytest.raises(LRFinderError, match=r"non-empty list of finite rates. Received: list"):
        ScheduleLR([])
    with pytest.raises(LRFinderError, match=r"Received: steps=0"):
        ScheduleLR(SCHEDULE, steps=0)
    with pytest.raises(LRFinderError, match=r"`schedule` must be a function of the step"):
        ScheduleCallback(0.1)  # type: ignore[arg-type]
    model = model_with(keras.optimizers.SGD(learning_rate=ScheduleLR(SCHEDULE, steps=STEPS)))
    with pytest.raises(LRFinderError, match=r"already|built with a LearningRateSchedule"):
        fit(model, 2, [ScheduleCallback(SCHEDULE)])


def test_docstring_examples() -> None:
    import doctest

    import lrfinder.keras._schedule

    failed, attempted = doctest.testmod(lrfinder.keras._schedule)
    assert failed == 0 and attempted > 0
