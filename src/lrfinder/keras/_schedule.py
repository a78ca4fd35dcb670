"""Keras 3 adapters for lrfinder schedules, on every backend.

A Keras ``LearningRateSchedule`` is called on the optimizer's step counter, which is a traced
tensor under ``jit`` (JAX, and TensorFlow's ``tf.function``): a Python schedule cannot run on it.
So :class:`ScheduleLR` holds a table of the schedule's values and indexes it by the clipped step,
which every backend can trace, and which serializes as a plain list of numbers. The callback
:class:`ScheduleCallback` instead calls the schedule in Python before each batch and works with
any schedule, including ones too long to tabulate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from .._core._checks import check_count
from .._core._errors import LRFinderError
from ..schedules._basic import Schedule, tabulate
from ._rates import Rates, rate_setter


@keras.saving.register_keras_serializable(package="lrfinder")
class ScheduleLR(keras.optimizers.schedules.LearningRateSchedule):
    """Any lrfinder schedule as a Keras ``LearningRateSchedule``, exact and serializable.

    Args:
        schedule: a schedule (function of the step) with ``steps``, or its values at steps
            ``0, 1, 2, ...`` as a sequence of numbers.
        steps: how many steps to tabulate; after the last, the final value holds.

    Examples:
        >>> import keras
        >>> from lrfinder import schedules
        >>> from lrfinder.keras import ScheduleLR
        >>> lr = ScheduleLR(schedules.one_cycle(0.1, total_steps=1000), steps=1000)
        >>> optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    """

    def __init__(self, schedule: Schedule | Sequence[float], steps: int | None = None) -> None:
        super().__init__()
        if callable(schedule):
            if steps is None:
                raise LRFinderError(
                    "`steps` is needed to tabulate a schedule function. Received: steps=None; "
                    "pass the number of training steps"
                )
            values = tabulate(schedule, check_count("steps", steps))
        else:
            values = np.asarray(schedule, dtype=np.float64)
            if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
                raise LRFinderError(
                    "`schedule` must be a function of the step or a non-empty list of finite "
                    f"rates. Received: {type(schedule).__name__} of shape {values.shape}"
                )
        self.values = [float(v) for v in values]
        self._table = np.asarray(self.values)  # converting an array is much faster than a list

    def __call__(self, step: Any) -> Any:
        table = keras.ops.convert_to_tensor(self._table, dtype=keras.backend.floatx())
        index = keras.ops.clip(keras.ops.cast(step, "int32"), 0, len(self.values) - 1)
        return keras.ops.take(table, index)

    def get_config(self) -> dict[str, Any]:
        return {"schedule": list(self.values)}


class ScheduleCallback(keras.callbacks.Callback):
    """Set the optimizer's rate from ``schedule(step)`` before every training batch.

    The step is the optimizer's own counter (``optimizer.iterations``), so a second ``fit`` call,
    or training resumed from a checkpoint with the optimizer's state, continues the schedule
    where it left off. The optimizer must have been built with a plain number as its
    ``learning_rate``. Under the JAX backend the rate reaches ``fit``'s jitted state without
    writing the whole state back every batch (as a plain callback would); :class:`ScheduleLR`,
    computed inside the step, costs nothing at all.

    Examples:
        >>> from lrfinder import schedules
        >>> from lrfinder.keras import ScheduleCallback
        >>> callback = ScheduleCallback(schedules.cosine_annealing(0.1, T_max=5000))
        >>> model.fit(x, y, callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        if not callable(schedule):
            raise LRFinderError(
                "`schedule` must be a function of the step, such as one from lrfinder.schedules. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self._setter: Rates | None = None
        self._kept = contextlib.ExitStack()  # the setter, from the start of fit to its end

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._setter = self._kept.enter_context(rate_setter(self.model))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._kept.close()
        self._setter = None

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        setter = self._setter or Rates(self.model)
        try:
            setter.set(float(self.schedule(setter.iterations())))
        except TypeError:
            raise LRFinderError(
                "ScheduleCallback sets the rate itself, but the optimizer was built with a "
                "LearningRateSchedule. Received: learning_rate="
                f"{type(setter.model.optimizer.learning_rate).__name__}; build the optimizer with "
                "a number as `learning_rate`"
            ) from None
