"""Re-finding the learning rate inside Keras 3's ``model.fit``, on any backend.

:class:`RefindCallback` runs lrfinder's range test (Smith 2015/2017, section 3.3) when training
starts and again whenever its :class:`lrfinder.RefindPolicy` says so, from the current weights.
Each test is ``lrfinder.keras.find_lr``: a short ``fit`` of its own, nested inside yours, whose
snapshot puts every weight, optimizer and metric variable and the random states back exactly, and
which puts back ``model.history``. Around it this module keeps the rest of what the outer ``fit``
holds on the model (its stop flag, validation iterator, compiled step, the torch modules' train
mode, and on JAX its jitted state), so training after a test differs from training without it
only by the new rate. A nested ``fit`` rather than ``train_on_batch``: the test then trains
exactly as ``find_lr`` does (any data ``fit`` reads, gradient accumulation, loss scaling).

>>> import numpy as np, keras, lrfinder, lrfinder.keras
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
>>> model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
>>> x = np.random.default_rng(0).random((64, 4)).astype("float32")
>>> y = x.sum(axis=1, keepdims=True)
>>> policy = lrfinder.RefindPolicy(every_epochs=1, num_steps=10, initial_num_steps=40)
>>> callback = lrfinder.keras.RefindCallback(x, y, batch_size=8, policy=policy)
>>> history = model.fit(x, y, batch_size=8, epochs=3, callbacks=[callback], verbose=0)
>>> [record.trigger for record in callback.history]
['initial', 'epochs', 'epochs']
>>> history.history["lrfinder/lr"] == [record.new_lr for record in callback.history]
True
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import keras

from .._core._errors import LRFinderError
from .._tuning._refind import Refind, Refinder, RefinderView, RefindPolicy, Schedule, due_at_epoch
from ._find import _checked_optimizer, find_lr
from ._rates import host
from ._schedule import ScheduleCallback

__all__ = ["RefindCallback"]

# What fit keeps on the model between batches and a nested fit resets or replaces: the stop flag
# (fit clears it), the cached validation iterator (fit deletes it), the compiled step (find_lr
# clears it when steps_per_execution > 1) and the epoch a BackupAndRestore resumes from.
_FIT_ATTRIBUTES = ("stop_training", "_eval_epoch_iterator", "train_function", "_initial_epoch")


@contextlib.contextmanager
def _outer_fit_kept(model: keras.Model) -> Iterator[None]:
    """Run a nested ``fit`` without disturbing the ``fit`` whose callback runs it."""
    saved = {name: getattr(model, name) for name in _FIT_ATTRIBUTES if hasattr(model, name)}
    modes = None
    if keras.config.backend() == "torch":  # fit ends each epoch in eval mode
        modes = [module.training for module in model.modules()]
    model._initial_epoch = None  # the test's own fit starts from its first epoch
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(model, name, value)
        if modes is not None:  # the torch modules fit tracks are rebuilt: read them again
            for module, training in zip(model.modules(), modes, strict=True):
                module.training = training
        # On JAX the outer fit carries its state as arrays from one step to the next and reads
        # the variables again only when a callback synced them; the nested fit consumed those
        # arrays (jit donates them), so the outer fit must read the restored variables. The
        # nested fit's own callback leaves this set already; this does not rely on it.
        if hasattr(model, "_jax_state_synced"):
            model._jax_state_synced = True


class RefindCallback(RefinderView, keras.callbacks.Callback):
    """Run the range test before training and re-run it during ``model.fit``, on a policy.

    Without ``schedule`` the found rate becomes the optimizer's constant rate until the next
    test. With one, the rate at optimizer step ``t`` is ``schedule(t) * lr / peak``, set before
    every batch (through :class:`lrfinder.keras.ScheduleCallback`), so warm-up, decay and cycles
    keep their shape and each test moves their peak ``lr``. Epoch tests run when an epoch
    begins (after the previous epoch's validation, which a plateau policy reads, and never
    after the last epoch); step tests after the batch that completes the step. Every epoch's
    ``logs`` (so ``History``, ``CSVLogger``, ``TensorBoard`` and the progress bar) get
    ``lrfinder/lr`` (the rate, or the schedule's peak, at the end of the epoch),
    ``lrfinder/found_lr`` (the last suggestion read during the epoch, NaN when none) and
    ``lrfinder/steps`` (the steps its tests trained, all undone); list this callback before a
    ``CSVLogger`` or ``TensorBoard`` so that they see them.

    Keras does not show callbacks the data ``fit`` reads, so the tests read their own: ``x``
    and ``y`` (batched by ``batch_size``, shuffled as ``fit`` does) or a re-iterable
    ``dataset``; the random states are put back, so ``fit``'s own shuffling is unchanged.

    Args:
        x: arrays (or anything ``fit`` accepts) the tests train on.
        y: the targets for ``x``.
        dataset: instead of ``x``/``y``: re-iterable batches (a ``tf.data.Dataset``, a
            ``keras.utils.PyDataset``, a torch ``DataLoader``), read anew by every test.
        batch_size: for ``x``/``y``, as in :func:`lrfinder.keras.find_lr`.
        sample_weight: for ``x``/``y``, as in :func:`lrfinder.keras.find_lr`.
        shuffle: for ``x``/``y``, as in :func:`lrfinder.keras.find_lr`.
        policy: when and how to re-run (default :class:`lrfinder.RefindPolicy`: every epoch).
        initial: run the full range test when training starts; else start from ``peak`` with
            a schedule, or the optimizer's rate.
        monitor: the epoch log a plateau policy watches.
        schedule: a function of the optimizer step giving the rate, e.g. a one-cycle shape
            from :mod:`lrfinder.schedules`; the optimizer's own rate must be a float.
        peak: the rate ``schedule`` was written for (1.0: a shape).

    Attributes:
        refinder: the :class:`lrfinder.Refinder`; ``refinder.history`` lists every test, and
            ``refinder.state_dict()`` is what a resumed run needs.

    Examples:
        >>> from lrfinder import RefindPolicy, schedules
        >>> cb = RefindCallback(
        ...     x, y, batch_size=64, policy=RefindPolicy(every_epochs=2),
        ...     schedule=schedules.cosine_annealing(1.0, T_max=5000),
        ... )  # doctest: +SKIP
        >>> model.fit(x, y, batch_size=64, epochs=10, callbacks=[cb])  # doctest: +SKIP
        >>> [record.new_lr for record in cb.history]  # doctest: +SKIP
    """

    def __init__(
        self,
        x: Any = None,
        y: Any = None,
        *,
        dataset: Any = None,
        batch_size: int = 32,
        sample_weight: Any = None,
        shuffle: bool = True,
        policy: RefindPolicy | None = None,
        initial: bool = True,
        monitor: str = "val_loss",
        schedule: Schedule | None = None,
        peak: float = 1.0,
    ) -> None:
        super().__init__()
        if (x is None) == (dataset is None):
            raise LRFinderError(
                "RefindCallback needs the data its range tests train on (Keras does not show "
                "callbacks the data fit reads): pass `x` (with `y`) or `dataset`, not both. "
                f"Received: x={type(x).__name__}, dataset={type(dataset).__name__}"
            )
        if isinstance(dataset, Iterator):  # the first test would use up a one-shot iterator
            raise LRFinderError(
                "`dataset` must be re-iterable (a tf.data.Dataset, a PyDataset, a DataLoader): "
                f"every test reads it anew. Received: {type(dataset).__name__}"
            )
        if dataset is not None:
            self.data: dict[str, Any] = {"dataset": dataset}
        else:
            self.data = {"x": x, "y": y, "batch_size": batch_size}
            self.data.update(sample_weight=sample_weight, shuffle=shuffle)
        self.policy = policy or RefindPolicy()
        self.initial = initial
        self.monitor = monitor
        self.peak = peak
        self.refinder = Refinder(self.policy)
        self._schedule = None
        if schedule is not None:
            self._schedule = ScheduleCallback(self.refinder.scaled(schedule, peak=peak))
        self._epoch = 0
        self._step = 0
        self._last_logs: dict[str, Any] | None = None  # the last epoch's logs, for a plateau
        self._logged = 0  # history records already put into an epoch's logs

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        if self._schedule is not None:
            self._schedule.set_model(model)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        try:
            _checked_optimizer(model)
        except LRFinderError as exc:
            raise LRFinderError(
                f"{exc} To re-find the peak of a schedule, pass it as RefindCallback(schedule=...)."
            ) from None
        if self._schedule is not None:
            self._schedule.on_train_begin(logs)
        self._step = self._iterations(model)
        if self.refinder.lr is None:  # else a second fit, or resumed: keep the rate found
            if self.initial:
                self._run("initial")
                return
            self.refinder.lr = self.peak if self._schedule else self._rate(model)
        self._apply()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._schedule is not None:
            self._schedule.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        if self._last_logs is None:  # the first epoch this callback sees: nothing to judge yet
            return
        fix = "Pass validation data to fit, or another `monitor`."
        trigger = due_at_epoch(self.refinder, epoch, self._last_logs, self.monitor, fix)
        if trigger:
            self._run(trigger)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._schedule is not None:
            self._schedule.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.policy.every_steps is None:  # reading the step syncs the JAX state: only if used
            return
        model = self.model
        last, self._step = self._step, self._iterations(model)
        # steps_per_execution > 1 runs several steps between callbacks: any multiple counts.
        due = [t for t in range(last + 1, self._step + 1) if self.refinder.step_end(t)]
        params = self.params or {}
        epochs, batches = params.get("epochs"), params.get("steps")
        over = self._epoch + 1 == epochs and batches is not None and batch + 1 >= batches
        if due and not over and not model.stop_training:  # no test once training ends
            self._run("steps")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        self._last_logs = dict(logs)
        records = self.history[self._logged :]
        self._logged = len(self.history)
        found = [r.found_lr for r in records if r.found_lr is not None]
        logs["lrfinder/lr"] = float(self.refinder.lr)  # type: ignore[arg-type]
        logs["lrfinder/found_lr"] = found[-1] if found else math.nan
        logs["lrfinder/steps"] = float(sum(r.steps for r in records))

    def _run(self, trigger: str) -> Refind:
        model = self.model  # on JAX, reading it writes fit's jitted state into the variables
        self._step = self._iterations(model)
        with _outer_fit_kept(model):
            result = find_lr(model, **self.data, **self.refinder.sweep_settings(), progress=False)
        record = self.refinder.update(result, trigger=trigger, epoch=self._epoch, step=self._step)
        self._apply()
        return record

    def _apply(self) -> None:
        if self._schedule is None:  # a schedule sets the rate itself before every batch
            self.model.optimizer.learning_rate = self.refinder.lr

    @staticmethod
    def _iterations(model: keras.Model) -> int:
        return int(host(model.optimizer.iterations))

    @staticmethod
    def _rate(model: keras.Model) -> float:
        return float(host(model.optimizer.learning_rate))
