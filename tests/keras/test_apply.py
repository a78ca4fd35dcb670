"""lrfinder.keras.apply and Suggestion.apply on a compiled model or its optimizer."""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"])
keras = pytest.importorskip("keras")

import lrfinder.keras  # noqa: E402
from _keras_models import host  # noqa: E402
from lrfinder import LRFinderError, Suggestion  # noqa: E402


def _model(optimizer: object) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _suggestion(lr: float) -> Suggestion:
    return Suggestion(lr=lr, index=0, method="fall", reason="test", low=lr, high=lr)


def test_a_suggestion_sets_the_models_learning_rate() -> None:
    model = _model(keras.optimizers.Adam(1e-3))
    assert _suggestion(0.02).apply(model) is model
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)


def test_an_optimizer_is_set_directly() -> None:
    opt = keras.optimizers.SGD(0.1)
    lrfinder.keras.apply(opt, 0.003)
    assert float(opt.learning_rate) == pytest.approx(0.003)


def test_the_set_rate_is_the_rate_that_trains() -> None:
    """One SGD step after apply moves the kernel by exactly lr x its gradient."""
    model = _model(keras.optimizers.SGD(1.0))
    x = np.ones((8, 4), dtype="float32")
    y = np.zeros((8, 1), dtype="float32")
    lrfinder.keras.apply(model, 0.01)
    kernel = host(model.layers[0].kernel)
    bias = host(model.layers[0].bias)
    prediction = x @ kernel + bias
    grad = (2 * (prediction - y) * x).mean(axis=0)[:, None]  # d mse / d kernel
    model.train_on_batch(x, y)
    np.testing.assert_allclose(host(model.layers[0].kernel), kernel - 0.01 * grad, rtol=1e-5)


def test_a_schedule_cannot_be_set() -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = _model(keras.optimizers.SGD(schedule))
    with pytest.raises(
        LRFinderError, match=r"`apply` sets the optimizer's `learning_rate`.*LearningRateSchedule"
    ):
        _suggestion(0.1).apply(model)


def test_an_uncompiled_model_is_refused() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(LRFinderError, match=r"must be compiled with an optimizer"):
        lrfinder.keras.apply(model, 0.1)


def test_apply_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.keras._apply, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
