"""Set a found rate on a compiled Keras model's optimizer, or on an optimizer."""

from __future__ import annotations

from typing import Any

import keras

from .._core._apply import rate_of, register_applier
from .._core._errors import LRFinderError
from ._find import _checked_optimizer, check_settable

SETTER = "`apply` sets the optimizer's `learning_rate`"
FIX = "Build the optimizer with a float rate and schedule it with a callback"


@register_applier("keras")
def apply(model_or_optimizer: keras.Model | keras.optimizers.Optimizer, lr: Any) -> Any:
    """Set ``lr`` (a rate, a :class:`lrfinder.Suggestion` or a ``TuneResult``) as the
    ``learning_rate`` of a compiled model's optimizer, or of an optimizer.

    An optimizer built with a ``LearningRateSchedule`` is refused: Keras cannot set its rate.
    To schedule from the found rate, use ``lrfinder.keras.ScheduleCallback``.

    Returns:
        ``model_or_optimizer``.

    Examples:
        >>> import keras, lrfinder.keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        >>> _ = lrfinder.keras.apply(model, 0.05)
        >>> round(float(model.optimizer.learning_rate), 6)
        0.05
    """
    rate = rate_of(lr)
    if isinstance(model_or_optimizer, keras.Model):
        optimizer = _checked_optimizer(model_or_optimizer, SETTER, FIX)
    elif isinstance(model_or_optimizer, keras.optimizers.Optimizer):
        optimizer = check_settable(model_or_optimizer, SETTER, FIX)
    else:
        raise LRFinderError(
            "`model_or_optimizer` must be a compiled keras.Model or a keras optimizer. "
            f"Received: {type(model_or_optimizer).__name__}"
        )
    optimizer.learning_rate = rate
    return model_or_optimizer
