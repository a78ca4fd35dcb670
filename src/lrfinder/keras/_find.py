"""find_lr and RangeTestCallback for Keras 3: the sweep inside model.fit, then the exact restore."""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator
from typing import Any, Unpack

import keras
import numpy as np

from .._core._checks import check_count
from .._core._errors import LRFinderError
from .._core._find import MAX_SKIPS_IN_A_ROW
from .._core._progress import progress_bar
from .._core._rangetest import RangeTest, SweepOptions, sweep_options
from .._core._result import RangeTestResult
from ._rates import Rates, host, rate_setter


def _accumulation(optimizer: Any) -> int:
    """How many batches make one optimizer step (``gradient_accumulation_steps``, or 1)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return int(getattr(inner, "gradient_accumulation_steps", None) or 1)


def _may_skip(optimizer: Any) -> bool:
    """Whether a batch may leave the optimizer's step count as it was: a LossScaleOptimizer
    (which wraps another) skips overflowing steps, and gradient accumulation steps once every
    few batches. Otherwise every batch is one step."""
    return hasattr(optimizer, "inner_optimizer") or _accumulation(optimizer) > 1


def _checked_optimizer(model: keras.Model, *settable: str) -> Any:
    """The model's optimizer, once it is known that the range test (or the caller that
    ``settable`` names, see :func:`check_settable`) can set its rate."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise LRFinderError(
            "`model` must be compiled with an optimizer. Received: model.optimizer=None. "
            "Call model.compile(optimizer=..., loss=...) first."
        )
    return check_settable(optimizer, *settable)


def check_settable(
    optimizer: Any,
    setter: str = "The range test sets the optimizer's rate before every batch",
    fix: str = "Compile a copy with a float rate for the range test",
) -> Any:
    """``optimizer``, once it is known that its rate can be set (a float, not a schedule);
    ``setter`` and ``fix`` say who sets it and what to do in the error."""
    # A LossScaleOptimizer forwards its rate to the optimizer it wraps.
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    # Keras keeps a settable rate as a Variable and a schedule (or callable) as-is; the public
    # property evaluates a schedule, so only the private slot tells the two apart.
    rate = getattr(inner, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or (
        callable(rate) and not isinstance(rate, keras.Variable)
    ):
        raise LRFinderError(
            f"{setter}, which Keras refuses when the optimizer was built with a "
            f"LearningRateSchedule or a callable. Received: learning_rate={rate!r}. {fix}, "
            "e.g. keras.optimizers.Adam(learning_rate=1e-3)."
        )
    return optimizer


class _Snapshot:
    """Host copies of every model, optimizer and metric variable and of the global RNGs.

    An optimizer that was not built yet is built by ``fit`` before the test begins, so it comes
    back built, with zero moments and ``iterations == 0``: it trains exactly like a fresh one.
    """

    def __init__(self, model: keras.Model) -> None:
        seen: dict[int, Any] = {}
        for v in [*model.variables, *model.optimizer.variables, *model.metrics_variables]:
            seen.setdefault(id(v), v)
        self.values = [(v, host(v)) for v in seen.values()]
        self.python_rng = random.getstate()
        self.numpy_rng = np.random.get_state()  # noqa: NPY002 (the global state fit shuffles with)
        # On the torch backend fit shuffles arrays through a DataLoader, with torch's global RNG.
        self.torch_rng = None
        if keras.config.backend() == "torch":
            import torch

            self.torch_rng = torch.get_rng_state()

    def restore(self) -> None:
        values: list[Any] = [value for _, value in self.values]
        if keras.config.backend() == "jax":
            # One transfer for all of them: each assign would otherwise convert its own array
            # (about 0.1 ms a variable; half of that this way).
            import jax

            values = jax.device_put(values)
        for (variable, _), value in zip(self.values, values, strict=True):
            variable.assign(value)
        random.setstate(self.python_rng)
        np.random.set_state(self.numpy_rng)  # noqa: NPY002
        if self.torch_rng is not None:
            import torch

            torch.set_rng_state(self.torch_rng)


class RangeTestCallback(keras.callbacks.Callback):
    """Run the learning-rate range test (Smith 2015/2017, section 3.3) inside ``model.fit``.

    Before each batch the callback sets the optimizer's rate to the sweep's next value and resets
    the model's metrics, so the ``logs["loss"]`` Keras reports after the batch is that batch's own
    loss (Keras otherwise reports a running mean over the epoch). It records the loss, sets
    ``model.stop_training`` when the test stops (end of sweep, divergence, NaN/inf), and when
    training ends stores :attr:`result` and puts back every weight, optimizer variable
    (iterations, moments, the rate), metric and the Python/numpy (and torch) RNG states. The
    sweep advances only on optimizer steps that ran: under ``gradient_accumulation_steps=k``
    one step of the test is k batches at one rate, its loss their mean; batches whose update a
    ``LossScaleOptimizer`` skipped (overflowing float16 gradients) join the next step's mean.

    ``fit`` does not tell callbacks when it raises; use the callback as a context manager (as
    below) to restore also then, or call :meth:`restore` yourself. Give ``fit`` enough epochs for
    ``num_steps`` batches. The model must be compiled with ``steps_per_execution=1``
    (:func:`find_lr` handles any value) and a float learning rate.

    Args:
        **sweep: the sweep and its stopping rule (``start_lr``, ``end_lr``, ``num_steps``,
            ``mode``, ``diverge_threshold``, ``smooth_beta``): see :class:`lrfinder.SweepOptions`.
        restore: put the model and optimizer back when training ends.
        progress: show a tqdm progress bar (pass ``verbose=0`` to ``fit`` to hide Keras's).

    Examples:
        >>> cb = RangeTestCallback(start_lr=1e-5, end_lr=1.0, num_steps=50)  # doctest: +SKIP
        >>> with cb:  # doctest: +SKIP
        ...     model.fit(x, y, batch_size=32, epochs=10, callbacks=[cb], verbose=0)
        >>> cb.result.suggestion  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        restore: bool = True,
        progress: bool = True,
        **sweep: Unpack[SweepOptions],
    ) -> None:
        super().__init__()
        self._sweep = sweep_options(sweep)
        self.range_test = RangeTest(**self._sweep)  # validates the settings now
        self.restore_after = restore
        self.progress = progress
        self.result: RangeTestResult | None = None
        self._snapshot: _Snapshot | None = None
        self._bar: Any = None
        self._base_lr = math.nan
        self._timings: dict[str, float] = {}
        self._iterations = 0
        self._skips = 0
        self._waiting = False
        self._rates: Rates | None = None
        self._rates_kept = contextlib.ExitStack()  # the Rates made here, until restore()
        # find_lr passes its own Rates and, when no step can be skipped, the batches' logs
        # unread (see _UnreadLogs), to be read one batch late.
        self._given_rates: Rates | None = None
        self._late = False
        self._may_skip = True  # whether a batch may leave the optimizer's step count as it was
        self._launched = 0  # batches started, when reading late
        self._pending: Any = None  # the last batch's loss, when reading late

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        optimizer = _checked_optimizer(model)
        steps = getattr(model, "steps_per_execution", 1)
        if steps != 1:
            raise LRFinderError(
                "The range test sets the rate before every batch, but Keras runs "
                f"steps_per_execution batches between callbacks. Received: "
                f"steps_per_execution={steps}. Compile with steps_per_execution=1, or use "
                "lrfinder.keras.find_lr, which does this for the test."
            )
        self.range_test = RangeTest(**self._sweep)
        self.result = None
        self._launched, self._pending = 0, None
        self._skips = 0
        self._waiting = False
        self._base_lr = float(host(optimizer.learning_rate))
        self._iterations = int(host(optimizer.iterations))
        self._may_skip = _may_skip(optimizer)  # if not, the step count is never read (a sync)
        started = time.perf_counter()
        self._snapshot = _Snapshot(model) if self.restore_after else None
        self._timings = {"snapshot_s": time.perf_counter() - started}
        self._bar = progress_bar(self.progress, self.range_test.num_steps)
        self._rates = self._given_rates or self._rates_kept.enter_context(rate_setter(model))

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # On JAX the rate and the reset must reach fit's jitted state: see rate_setter.
        assert self._rates is not None  # set in on_train_begin
        if self._late:  # the losses of the batches launched so far are not all recorded yet
            self._launched += 1
            self._rates.set(self.range_test.group_lrs_at(self._launched - 1)[0], reset_metrics=True)
            return
        self._rates.set(self.range_test.lr, reset_metrics=not self._waiting)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not logs or "loss" not in logs:
            raise LRFinderError(
                "The range test reads the batch loss from logs['loss']. Received logs with keys "
                f"{sorted(logs or {})}. A custom train_step must return {{'loss': ...}}."
            )
        assert self._rates is not None
        rt, model = self.range_test, self._rates.model
        if self._late:
            # This batch's loss is read one batch later, once the host has launched the next
            # step, so the host never waits for the step it just launched. The step run past
            # the stop is undone by the restore, like every other.
            last, self._pending = self._pending, logs["loss"]
            if last is not None:
                self._record(float(host(last)))
            return
        loss = float(host(logs["loss"]))
        if not self._may_skip:
            self._record(loss)
            return
        # The optimizer did not step: it accumulates gradients, or a LossScaleOptimizer skipped
        # the update (overflowing gradients). The weights have not moved, so the sweep waits and
        # the metrics keep averaging over these batches, all at this rate and these weights;
        # a NaN/inf loss still stops the test at once.
        # The count read here is the next batch's starting count: one host read a batch.
        iterations, self._iterations = self._iterations, self._rates.iterations()
        self._waiting = math.isfinite(loss) and self._iterations == iterations
        if self._waiting:
            self._skips += 1
            if self._skips >= MAX_SKIPS_IN_A_ROW + _accumulation(model.optimizer):
                if not rt.step:
                    raise LRFinderError(
                        "The optimizer skipped every step: the loss-scaled gradients overflow at "
                        f"every scale. Received: {self._skips} skipped steps in a row, loss="
                        f"{loss:.4g}. Check that the model trains in float32 first."
                    )
                rt.stop("nonfinite")
                model.stop_training = True
            return
        self._skips = 0
        self._record(loss)

    def _record(self, loss: float) -> None:
        assert self._rates is not None
        if self.range_test.record(loss):
            self._rates.model.stop_training = True
        self._bar.step(self.range_test)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._pending is not None and not self.range_test.done:
            self._record(float(host(self._pending)))  # the last batch's, still unread
        self._pending = None
        if self.range_test.step:
            self.range_test.stop("stopped")  # fit ended first; no-op when the test had ended
            self.result = self.range_test.result(
                settings={
                    "framework": "keras",
                    "backend": keras.config.backend(),
                    "base_lrs": [self._base_lr],
                },
                timings=self._timings,
            )
        self.restore()

    def restore(self) -> None:
        """Put back the state saved when training began (once; later calls do nothing)."""
        self._rates_kept.close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._snapshot is not None:
            started = time.perf_counter()
            self._snapshot.restore()
            self._snapshot = None
            self._timings["restore_s"] = time.perf_counter() - started

    def __enter__(self) -> RangeTestCallback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()


class _UnreadLogs(keras.callbacks.CallbackList):
    """``fit``'s callbacks, handed each batch's logs as the step returned them: Keras would read
    them onto the host first, waiting for the step to finish."""

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)


def fit_with(
    model: keras.Model, callback: keras.callbacks.Callback, *, late: bool, **fit: Any
) -> None:
    """``model.fit(**fit)`` with ``callback`` alone, which gets the batches' logs unread where
    ``late`` (it then reads each loss one batch late)."""
    callbacks: Any = [callback]
    if late:
        callbacks = _UnreadLogs(callbacks, add_history=True, model=model, epochs=fit["epochs"])
    model.fit(**fit, callbacks=callbacks, verbose=0)


@contextlib.contextmanager
def one_batch_per_call(model: keras.Model) -> Iterator[None]:
    """``fit`` with callbacks around every batch (``steps_per_execution=1``), and the model's
    ``steps_per_execution``, ``history`` and ``stop_training`` as they were afterwards."""
    saved = {name: getattr(model, name, None) for name in ("steps_per_execution", "history")}
    try:
        if saved["steps_per_execution"] != 1:
            model.steps_per_execution = 1
            model.train_function = None  # fit compiles a one-batch step
        yield
    finally:
        if saved["steps_per_execution"] != 1:
            model.steps_per_execution = saved["steps_per_execution"]
            model.train_function = None
        model.history = saved["history"]
        model.stop_training = False


def _no_batch(data: Any) -> LRFinderError:
    return LRFinderError(
        f"The range test needs at least one batch. Received: an empty {type(data).__name__}."
    )


def find_lr(
    model: keras.Model,
    x: Any = None,
    y: Any = None,
    *,
    dataset: Any = None,
    batch_size: int = 32,
    sample_weight: Any = None,
    shuffle: bool = True,
    progress: bool = True,
    **sweep: Unpack[SweepOptions],
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2015/2017, section 3.3) on a compiled Keras model.

    Trains ``model`` through its own ``fit`` (with its compiled loss, regularisation and
    optimizer) for up to ``num_steps`` batches while the rate grows from ``start_lr`` to
    ``end_lr``, recording each batch's loss, and stops early when the loss diverges or turns
    NaN/inf; the data is cycled when shorter than the test. Every weight and optimizer variable
    is restored exactly afterwards, also when the test raises; ``steps_per_execution`` is set to
    1 for the test and put back. Nothing is written to disk.

    Args:
        model: a model compiled with an optimizer whose learning rate is a float.
        x: arrays (or anything ``fit`` accepts as ``x``), batched by ``batch_size``.
        y: the targets for ``x`` (anything ``fit`` accepts as ``y``).
        dataset: instead of ``x``/``y``: batches ready for ``fit`` (a ``tf.data.Dataset``, a
            ``keras.utils.PyDataset``, a torch ``DataLoader``, a generator).
        batch_size: the batch size for ``x``/``y``.
        sample_weight: per-sample weights for ``x``/``y``.
        shuffle: shuffle ``x``/``y`` as ``fit`` does; the numpy RNG is put back afterwards.
        **sweep: the sweep and its stopping rule (``start_lr``, ``end_lr``, ``num_steps``,
            ``mode``, ``diverge_threshold``, ``smooth_beta``): see :class:`lrfinder.SweepOptions`.
        progress: show a tqdm progress bar.

    Returns:
        The :class:`lrfinder.RangeTestResult`; ``result.suggestion`` names a rate.
    """
    if (x is None) == (dataset is None):
        raise LRFinderError(
            "Pass either `x` (with `y`) or `dataset`, not both and not neither. Received: "
            f"x={type(x).__name__}, dataset={type(dataset).__name__}"
        )
    if not isinstance(model, keras.Model):
        raise LRFinderError(
            f"`model` must be a compiled keras.Model. Received: {type(model).__name__}"
        )
    batch_size = check_count("batch_size", batch_size)
    _checked_optimizer(model)
    callback = RangeTestCallback(progress=progress, **sweep)
    if dataset is not None:
        data: dict[str, Any] = {"x": dataset, "shuffle": False}  # fit warns on True
        if hasattr(dataset, "__len__") and not len(dataset):
            raise _no_batch(dataset)
    else:
        data = {"x": x, "y": y, "batch_size": batch_size, "sample_weight": sample_weight}
        data["shuffle"] = shuffle
    # Every epoch has a batch, so this is enough for the sweep and any steps a loss-scale
    # optimizer skips; the callback ends fit as soon as the test stops.
    epochs = (callback.range_test.num_steps + MAX_SKIPS_IN_A_ROW) * _accumulation(model.optimizer)
    with one_batch_per_call(model), rate_setter(model) as setter, callback:
        callback._given_rates = setter
        # Late only where every batch is a step: a skipped one would change the next rate.
        callback._late = setter.deferrable and not _may_skip(model.optimizer)
        fit_with(model, callback, late=callback._late, **data, epochs=epochs)
    if callback.result is None:
        raise _no_batch(dataset if dataset is not None else x)
    return callback.result
