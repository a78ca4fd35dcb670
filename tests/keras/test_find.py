"""lrfinder.keras on real models and digits data, on the backend KERAS_BACKEND names.

Keras reads KERAS_BACKEND once, at import: `make test` runs this module under the torch backend
(the default set here), again in the JAX pass, and with tensorflow where it is installed.
"""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"])
keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

import lrfinder.keras  # noqa: E402
from _keras_models import assert_same_state, host, mlp, state  # noqa: E402
from _mlp import BATCH, numpy_loss  # noqa: E402
from _mlp import digits as load_digits  # noqa: E402
from lrfinder import LRFinderError, LRFinderWarning  # noqa: E402
from lrfinder.keras import RangeTestCallback, find_lr  # noqa: E402


def test_runs_on_the_requested_backend() -> None:
    assert keras.config.backend() == os.environ["KERAS_BACKEND"]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits(320)


def weights(model: keras.Model) -> dict[str, np.ndarray]:
    return dict(zip(["w1", "b1", "w2", "b2"], map(host, model.trainable_variables), strict=True))


def test_each_recorded_loss_is_that_batch_loss_at_that_rate(digits) -> None:
    x, y = digits
    result = find_lr(
        mlp(), x, y, batch_size=BATCH, shuffle=False, start_lr=1e-4, end_lr=10.0,
        num_steps=25, progress=False,
    )  # fmt: skip
    # Replay on a fresh copy of the same model: set each recorded rate, compute the batch loss
    # independently (numpy), then take the step. Batches cycle: 320 samples are 10 batches.
    replay = mlp()
    for i, (lr, loss) in enumerate(zip(result.lrs, result.losses, strict=True)):
        xb, yb = x[i % 10 * BATCH : (i % 10 + 1) * BATCH], y[i % 10 * BATCH : (i % 10 + 1) * BATCH]
        assert loss == pytest.approx(numpy_loss(weights(replay), xb, yb), rel=1e-5), i
        replay.optimizer.learning_rate = lr
        replay.train_on_batch(xb, yb)
    assert result.lrs[0] == pytest.approx(1e-4)
    assert result.steps > 10  # the data was cycled
    running_mean = np.cumsum(result.losses[:10]) / np.arange(1, 11)
    assert not np.allclose(result.losses[:10], running_mean)


def test_stops_on_divergence_and_fit_stops_with_it(digits) -> None:
    x, y = digits
    seen: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    cb = RangeTestCallback(start_lr=1e-3, end_lr=1e4, num_steps=80, progress=False)
    with cb:
        mlp().fit(x, y, batch_size=BATCH, epochs=8, callbacks=[cb, counter], verbose=0)
    assert cb.result is not None
    assert cb.result.stop_reason == "diverged"
    assert cb.result.steps < 80
    assert len(seen) == cb.result.steps


def test_stops_at_the_first_nan(digits) -> None:
    x, y = digits
    x = x.copy()
    x[3 * BATCH + 5, 0] = np.nan  # the fourth batch
    result = find_lr(mlp(), x, y, batch_size=BATCH, shuffle=False, num_steps=50, progress=False)
    assert result.stop_reason == "nonfinite"
    assert result.steps == 4
    assert np.isnan(result.losses[-1])
    assert np.isfinite(result.losses[:-1]).all()


def test_restores_weights_and_every_optimizer_variable_exactly(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = digits
    model = mlp(dropout=0.2)
    model.fit(x[:96], y[:96], batch_size=BATCH, epochs=1, verbose=0)  # moments, iterations > 0
    before = state(model)
    assert int(host(model.optimizer.iterations)) == 3
    rng = np.random.get_state()[1].copy()  # noqa: NPY002
    result = find_lr(model, x, y, batch_size=BATCH, end_lr=1e3, num_steps=30, progress=False)
    assert result.steps > 5
    assert_same_state(before, state(model))
    np.testing.assert_array_equal(np.random.get_state()[1], rng)  # noqa: NPY002
    assert list(tmp_path.iterdir()) == []


def test_restores_when_training_raises(digits) -> None:
    x, y = digits
    model = mlp()
    model.fit(x[:64], y[:64], batch_size=BATCH, epochs=1, verbose=0)
    before = state(model)

    def batches():
        for i in range(5):
            yield x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        find_lr(model, dataset=batches(), num_steps=20, progress=False)
    assert_same_state(before, state(model))


def test_callback_restores_at_train_end_and_can_run_again(digits) -> None:
    x, y = digits
    model = mlp()
    before = state(model)  # the optimizer is not built yet: iterations and rate only
    cb = RangeTestCallback(start_lr=1e-4, end_lr=1.0, num_steps=15, progress=False)
    model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[cb], verbose=0)
    first = cb.result
    assert first is not None and first.steps == 15 and first.stop_reason == "completed"
    after = state(model)
    # fit built the optimizer before the test began: its moments come back as built, zero.
    assert_same_state(before, after[: len(before)])
    assert all(not v.any() for v in after[len(before) :])
    model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[cb], verbose=0)
    assert cb.result is not None
    np.testing.assert_allclose(cb.result.losses, first.losses, rtol=1e-6)


def test_the_callback_reads_no_step_count_where_every_batch_is_a_step(digits, monkeypatch):
    from lrfinder.keras import _rates

    def refuse(self: object) -> int:
        raise AssertionError("the step count was read")

    monkeypatch.setattr(_rates.Rates, "iterations", refuse)
    monkeypatch.setattr(_rates._JaxRates, "iterations", refuse)
    x, y = digits
    cb = RangeTestCallback(start_lr=1e-4, end_lr=1.0, num_steps=15, progress=False)
    mlp().fit(x, y, batch_size=BATCH, epochs=2, callbacks=[cb], shuffle=False, verbose=0)
    assert cb.result is not None and cb.result.steps == 15
    alone = find_lr(
        mlp(), x, y, batch_size=BATCH, shuffle=False, start_lr=1e-4, end_lr=1.0, num_steps=15,
        progress=False,
    )  # fmt: skip
    np.testing.assert_allclose(cb.result.losses, alone.losses, rtol=1e-6)


def test_steps_per_execution_is_set_to_one_for_the_test_and_put_back(digits) -> None:
    x, y = digits
    kw = {"batch_size": BATCH, "shuffle": False, "num_steps": 12, "progress": False}
    reference = find_lr(mlp(), x, y, **kw)
    model = mlp(steps_per_execution=4)
    result = find_lr(model, x, y, **kw)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-6)
    assert model.steps_per_execution == 4
    cb = RangeTestCallback(num_steps=5, progress=False)
    # Keras on torch refuses steps_per_execution > 1 itself, before any callback runs.
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.fit(x, y, batch_size=BATCH, callbacks=[cb], verbose=0)


def test_learning_rate_schedule_is_refused_up_front(digits) -> None:
    x, y = digits
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.9)
    model = mlp(keras.optimizers.SGD(schedule))
    before = state(model)
    with pytest.raises(LRFinderError, match="LearningRateSchedule"):
        find_lr(model, x, y, num_steps=5, progress=False)
    assert_same_state(before, state(model))


def test_gradient_accumulation_advances_the_sweep_once_per_optimizer_step(digits) -> None:
    x, y = digits
    model = mlp(keras.optimizers.SGD(0.01, gradient_accumulation_steps=2))
    result = find_lr(
        model, x, y, batch_size=BATCH, shuffle=False, start_lr=1e-3, end_lr=3.0, num_steps=12,
        progress=False,
    )  # fmt: skip
    assert result.steps == 12
    # One step is two batches of 32 at one rate, their gradients averaged: one batch of 64.
    replay = mlp(keras.optimizers.SGD(0.01))
    for i, (lr, loss) in enumerate(zip(result.lrs, result.losses, strict=True)):
        xb, yb = x[i % 5 * 64 : (i % 5 + 1) * 64], y[i % 5 * 64 : (i % 5 + 1) * 64]
        assert loss == pytest.approx(numpy_loss(weights(replay), xb, yb), rel=1e-5), i
        replay.optimizer.learning_rate = lr
        replay.train_on_batch(xb, yb)


def test_uncompiled_model_and_bad_data_are_refused(digits) -> None:
    x, y = digits
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    with pytest.raises(LRFinderError, match="must be compiled"):
        find_lr(model, x, y, progress=False)
    with pytest.raises(LRFinderError, match="either `x`"):
        find_lr(mlp(), x, y, dataset=[(x, y)], progress=False)
    with pytest.raises(LRFinderError, match="either `x`"):
        find_lr(mlp(), progress=False)
    with pytest.raises(LRFinderError, match="Received: an empty list"):
        find_lr(mlp(), dataset=[], progress=False)


def test_missing_loss_in_logs_is_explained() -> None:
    cb = RangeTestCallback(progress=False)
    cb.set_model(mlp())
    cb.on_train_begin()
    with pytest.raises(LRFinderError, match=r"logs\['loss'\]"):
        cb.on_train_batch_end(0, {"accuracy": 0.5})
    cb.restore()


def test_bad_sweep_settings_are_refused_when_the_callback_is_built() -> None:
    with pytest.raises(LRFinderError, match="start_lr"):
        RangeTestCallback(start_lr=1.0, end_lr=0.1)


def test_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.keras, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0


def test_a_fit_that_ends_first_leaves_a_stopped_result(digits) -> None:
    x, y = digits
    cb = RangeTestCallback(num_steps=50, progress=False)
    mlp().fit(x, y, batch_size=BATCH, epochs=1, callbacks=[cb], verbose=0)
    assert cb.result is not None
    assert cb.result.steps == 10
    assert cb.result.stop_reason == "stopped"


def test_a_test_cut_short_by_fit_warns_to_train_for_more_epochs(digits) -> None:
    # issue 12: 100 steps asked, 2 epochs of 320 samples give 20; the advice was "raise num_steps"
    x, y = digits
    cb = RangeTestCallback(num_steps=100, progress=False)
    mlp().fit(x, y, batch_size=BATCH, epochs=2, callbacks=[cb], verbose=0)
    assert cb.result is not None and cb.result.steps == 20
    with pytest.warns(
        LRFinderWarning,
        match=r"the training loop ended the test \(e.g. `fit` ran out of epochs\) after 20 "
        r"of 100 steps.*train for more epochs",
    ):
        s = cb.result.suggestion
    assert "confidence" in str(s) and "  warning: " in str(s)
    assert all("raise `num_steps`" not in w for w in s.warnings)


def loss_scaled_mlp(initial_scale: float) -> keras.Model:
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inner = keras.optimizers.SGD(0.01)
        model = mlp(keras.optimizers.LossScaleOptimizer(inner, initial_scale=initial_scale))
    finally:
        keras.config.set_dtype_policy(policy)
    model.optimizer.build(model.trainable_variables)  # so `state` sees every variable
    return model


def test_steps_skipped_by_loss_scaling_do_not_advance_the_sweep(digits) -> None:
    x, y = digits
    model = loss_scaled_mlp(2.0**30)  # the float16 gradients overflow until the scale falls
    before = state(model)
    seen: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    cb = RangeTestCallback(start_lr=1e-4, end_lr=1.0, num_steps=20, progress=False)
    with cb:
        model.fit(x, y, batch_size=BATCH, epochs=10, callbacks=[cb, counter], verbose=0)
    assert cb.result is not None and cb.result.stop_reason == "completed"
    assert cb.result.steps == 20 < len(seen)
    assert cb.result.lrs[0] == 1e-4
    assert np.isfinite(cb.result.losses).all()
    assert_same_state(before, state(model))


def test_a_loss_scale_that_never_fits_is_explained(digits) -> None:
    x, y = digits
    model = loss_scaled_mlp(2.0**120)  # overflows at every scale the test waits for
    before = state(model)
    with pytest.raises(LRFinderError, match="skipped every step"):
        find_lr(model, x, y, batch_size=BATCH, num_steps=20, progress=False)
    assert_same_state(before, state(model))


def test_model_and_batch_size_are_checked_up_front(digits) -> None:
    x, y = digits
    with pytest.raises(LRFinderError, match=r"`model` must be a compiled keras.Model"):
        find_lr(None, x, y, progress=False)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(LRFinderError, match=r"`batch_size` must be an integer of at least 1"):
            find_lr(mlp(), x, y, batch_size=bad, progress=False)
