"""A small Keras model and exact state comparison, shared by the Keras tests.

Import it after KERAS_BACKEND is set: Keras reads it once, at import.
"""

from __future__ import annotations

import keras
import numpy as np


def host(value: object) -> np.ndarray:
    """A numpy copy of a tensor or Variable on any backend."""
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):
        return np.array(value.detach().cpu().numpy())  # type: ignore[attr-defined]
    return np.array(keras.ops.convert_to_numpy(value))


def mlp(optimizer: object = None, *, dropout: float = 0.0, **compile_kw: object) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,)), keras.layers.Dense(32, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    model = keras.Sequential([*layers, keras.layers.Dense(10)])
    model.compile(
        optimizer=optimizer if optimizer is not None else keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_kw,
    )
    return model


def state(model: keras.Model) -> list[np.ndarray]:
    variables = [*model.variables, *model.optimizer.variables]
    return [host(v) for v in variables]


def assert_same_state(before: list[np.ndarray], after: list[np.ndarray]) -> None:
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
