"""The range test in PyTorch Lightning: before training and again on a re-finding policy.

:class:`RefindCallback` runs lrfinder's range test (Smith 2015/2017, section 3.3) when training
starts and then whenever its :class:`lrfinder.RefindPolicy` says so, from the current weights,
through ``lrfinder.torch.find_lr``: model, optimizer and random states are put back bit for bit
after each test, and the trainer's loops, step counters, loggers, other callbacks and early
stopping never see it. Only the rate changes.

>>> import lightning.pytorch as pl
>>> from lrfinder.lightning import RefindCallback
>>> callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=2))  # doctest: +SKIP
>>> pl.Trainer(max_epochs=6, callbacks=[callback]).fit(module, datamodule)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Unpack

from ._core._errors import LRFinderError, LRFinderWarning, NoSuggestionError
from ._core._frameworks import missing_framework

try:
    import lightning.pytorch as pl
    import torch
except ModuleNotFoundError as exc:
    raise missing_framework(
        exc, module="lrfinder.lightning", framework="PyTorch Lightning", extra="trainers"
    ) from exc

from ._core._rangetest import SweepOptions
from ._core._registry import Suggestion
from ._core._result import RangeTestResult
from ._tuning._refind import Refinder, RefinderView, RefindPolicy, due_at_epoch
from .torch._find import find_lr
from .torch._refind import first_lr, fresh_loader, logged, refind, rescale

__all__ = ["FindLRCallback", "RefindCallback"]


def _noop(*args: Any, **kwargs: Any) -> None:
    """Stands in for ``LightningModule.log`` during a range test, whose steps are not training."""


class RefindCallback(RefinderView, pl.Callback):
    """Run the range test before training and re-run it during training, on a policy.

    The found rate replaces the rate of every parameter group (their ratios hold). When
    ``configure_optimizers`` returns a PyTorch scheduler (``LambdaLR``, ``StepLR``,
    ``OneCycleLR``, ``CyclicLR``...), the rates it computes from are rescaled instead, so the
    schedule keeps its shape around the new peak (the policy's rate is that peak); a
    ``ReduceLROnPlateau`` reads the groups' rates, so it goes on reducing from the found one. Each
    test's rates are logged through the trainer's loggers as
    ``lrfinder/found_lr``, ``lrfinder/lr`` and ``lrfinder/steps``.

    Each test step calls the module's ``training_step(batch, 0)`` with ``self.log`` silenced,
    then ``backward()`` and the optimizer's ``step()``, in full precision; pass ``step_fn`` for
    anything else. A ``training_step`` that returns None skips its batch, as in Lightning.
    Automatic optimization with one optimizer only.

    Args:
        policy: when and how to re-run (default :class:`lrfinder.RefindPolicy`: every epoch).
        initial: run the full range test when training starts; else start from the
            optimizer's (or the scheduler's peak) rate.
        monitor: the logged metric a plateau policy watches.
        data: the batches the tests read; default: a private loader over the training
            DataLoader's dataset (shuffled by its own generator seeded with ``seed``).
        step_fn: ``step_fn(module, batch) -> loss`` instead of ``training_step``.
        seed: the seed of that private loader.

    Attributes:
        refinder: the :class:`lrfinder.Refinder`; ``refinder.history`` lists every test.
    """

    def __init__(
        self,
        *,
        policy: RefindPolicy | None = None,
        initial: bool = True,
        monitor: str = "val_loss",
        data: Iterable[Any] | None = None,
        step_fn: Any = None,
        seed: int = 0,
    ) -> None:
        self.policy = policy or RefindPolicy()
        self.initial = initial
        self.monitor = monitor
        self.data = data
        self.step_fn = step_fn
        self.seed = seed
        self.refinder = Refinder(self.policy)
        self._last_step = -1

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if len(trainer.optimizers) != 1 or not pl_module.automatic_optimization:
            raise LRFinderError(
                "RefindCallback supports automatic optimization with one optimizer. Received: "
                f"{len(trainer.optimizers)} optimizer(s), automatic_optimization="
                f"{pl_module.automatic_optimization}. Run lrfinder.torch.find_lr yourself."
            )
        self._last_step = trainer.global_step
        if self.data is None:
            self.data = fresh_loader(trainer.train_dataloader, seed=self.seed)
        if self.refinder.lr is not None:  # resumed from a checkpoint: the rate is restored
            return
        if self.initial:
            self._run(trainer, pl_module, "initial")
        else:
            self.refinder.lr = first_lr(trainer.optimizers[0], self._scheduler(trainer))

    def state_dict(self) -> dict[str, Any]:
        return self.refinder.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.refinder.load_state_dict(state_dict)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The previous epoch's validation has run, so a plateau policy sees its loss.
        trigger = due_at_epoch(
            self.refinder,
            trainer.current_epoch,
            trainer.callback_metrics,
            self.monitor,
            "Log it with self.log, or pass another `monitor`.",
        )
        if trigger:
            self._run(trainer, pl_module, trigger)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if step == self._last_step:  # accumulating: no optimizer step since the last batch
            return
        if step >= trainer.estimated_stepping_batches:  # training is over: nothing to re-find for
            return
        self._last_step = step
        trigger = self.refinder.step_end(step)
        if trigger:
            self._run(trainer, pl_module, trigger)

    def _scheduler(self, trainer: pl.Trainer) -> Any:
        configs = trainer.lr_scheduler_configs
        if not configs:
            return None
        scheduler = configs[0].scheduler
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            # It computes from the groups' current rates, which the found rate replaces.
            return None
        if not hasattr(scheduler, "base_lrs"):
            raise LRFinderError(
                "The scheduler must be a PyTorch LRScheduler (with `base_lrs`) for the found rate "
                f"to rescale it. Received: {type(scheduler).__name__}. Use LambdaLR."
            )
        return scheduler

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule, trigger: str) -> None:
        step_fn = self.step_fn or _training_step
        silenced = {name: getattr(pl_module, name) for name in ("log", "log_dict")}
        for name in silenced:
            object.__setattr__(pl_module, name, _noop)
        try:
            record = refind(
                self.refinder,
                pl_module,
                trainer.optimizers[0],
                self.data,  # type: ignore[arg-type]
                trigger=trigger,
                epoch=trainer.current_epoch,
                step=trainer.global_step,
                scheduler=self._scheduler(trainer),
                step_fn=step_fn,
                device=pl_module.device,
            )
        finally:
            for name in silenced:
                object.__delattr__(pl_module, name)
        for logger in trainer.loggers:
            logger.log_metrics(logged(record), step=trainer.global_step)


def _training_step(module: pl.LightningModule, batch: Any) -> torch.Tensor | None:
    out = module.training_step(batch, 0)
    if out is None:  # Lightning's "skip this batch"; the range test skips it too
        return None
    loss = out["loss"] if isinstance(out, Mapping) else out
    if not torch.is_tensor(loss):
        raise LRFinderError(
            "`training_step` must return the loss (a tensor, or a dict with 'loss') for the "
            f"range test. Received: {type(out).__name__}. Pass step_fn=... instead."
        )
    return loss


class FindLRCallback(pl.Callback):
    """Run the range test once, when training starts, set the rate it finds, then do nothing.

    The one-off finder, in the role of Lightning's ``LearningRateFinder`` callback and
    ``Tuner.lr_find``: at ``on_train_start`` (the optimizer and its scheduler exist by then)
    it runs ``lrfinder.torch.find_lr`` (Smith 2015/2017, section 3.3) on the module and its
    optimizer, which puts the weights, the optimizer, the schedulers and the random states back
    bit for bit; then it writes the suggested rate into the optimizer that trains: every
    parameter group (their ratios hold) and, when ``configure_optimizers`` returns a PyTorch
    scheduler, the rates it computes from (``base_lrs``, and ``initial_lr`` / ``max_lr`` in the
    groups), so the schedule keeps its shape around the new rate (``max_lr`` for
    ``OneCycleLR``). Training from there equals training with that rate set by hand. The rate
    is logged through the trainer's loggers as ``lrfinder/found_lr``.

    Each test step calls ``training_step(batch, 0)`` with ``self.log`` silenced, in full
    precision (pass ``step_fn`` for anything else), reading a private shuffled loader over the
    training set. Automatic optimization with one optimizer. When training resumes from a
    checkpoint, the checkpoint's rate stands and no test runs. When the curve cannot be read
    (too few steps, a loss that never fell), training goes on at its own rate with an
    :class:`lrfinder.LRFinderWarning` that says why, and ``suggestion`` and ``lr`` stay None.

    Args:
        method: the suggestion rule (default :data:`lrfinder.DEFAULT_METHOD`).
        for_schedule: ``"constant"``, or ``"onecycle"`` when the rate is a one-cycle peak.
        data: the batches the test reads; default a private loader over the training
            DataLoader's dataset, shuffled by its own generator seeded with ``seed``.
        step_fn: ``step_fn(module, batch) -> loss`` instead of ``training_step``.
        seed: the seed of that private loader.
        attr: also set ``pl_module.<attr>`` (and ``hparams[attr]`` when it is there) to the
            rate, so that checkpoints and hyperparameter logs record it (e.g. ``"lr"``).
        **sweep: the range test's keywords (``start_lr``, ``end_lr``, ``num_steps``, ...).

    Attributes:
        result: the :class:`lrfinder.RangeTestResult` (None until training starts).
        suggestion: the :class:`lrfinder.Suggestion` that was applied (None when none was).
        lr: the rate that was set (for the first parameter group; a scheduler's peak), or None.

    Examples:
        >>> trainer = pl.Trainer(max_epochs=5, callbacks=[FindLRCallback()])  # doctest: +SKIP
        >>> trainer.fit(module, datamodule)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        method: str | None = None,
        for_schedule: str = "constant",
        data: Iterable[Any] | None = None,
        step_fn: Any = None,
        seed: int = 0,
        attr: str | None = None,
        **sweep: Unpack[SweepOptions],
    ) -> None:
        self.method = method
        self.for_schedule = for_schedule
        self.data = data
        self.step_fn = step_fn
        self.seed = seed
        self.attr = attr
        self.sweep = sweep
        self.result: RangeTestResult | None = None
        self.suggestion: Suggestion | None = None
        self.lr: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if len(trainer.optimizers) != 1 or not pl_module.automatic_optimization:
            raise LRFinderError(
                "FindLRCallback supports automatic optimization with one optimizer. Received: "
                f"{len(trainer.optimizers)} optimizer(s), automatic_optimization="
                f"{pl_module.automatic_optimization}. Run lrfinder.torch.find_lr yourself."
            )
        if trainer.global_step > 0:  # resumed: the checkpoint's optimizer holds the rate
            return
        optimizer = trainer.optimizers[0]
        scheduler = _lr_scheduler(trainer)
        data = self.data
        if data is None:
            data = fresh_loader(trainer.train_dataloader, seed=self.seed)
        groups = optimizer.param_groups
        current = [g["lr"] for g in groups]
        # A scheduler's first rate may be a fraction of its base (warm-up): sweep from the
        # rates it computes from, so the groups' ratios are the schedule's.
        if scheduler is not None:
            for group, lr in zip(groups, scheduler.base_lrs, strict=True):
                group["lr"] = lr
        step_fn: Any = self.step_fn or _training_step
        silenced = {name: getattr(pl_module, name) for name in ("log", "log_dict")}
        for name in silenced:
            object.__setattr__(pl_module, name, _noop)
        try:
            self.result = find_lr(
                pl_module,
                optimizer,
                data,
                step_fn=step_fn,
                device=pl_module.device,
                progress=False,
                **self.sweep,
            )
        finally:
            for name in silenced:
                object.__delattr__(pl_module, name)
            for group, lr in zip(groups, current, strict=True):
                group["lr"] = lr
        self.suggestion, self.lr = None, None  # a fit before this one may have set them
        try:
            self.suggestion = self.result.suggest(self.method, for_schedule=self.for_schedule)
        except NoSuggestionError as exc:
            # Training goes on at the rate it was given, as Lightning's finder does: a curve
            # that cannot be read must not end the fit it was meant to help.
            warnings.warn(
                f"The range test found no rate, so training keeps its own ({current[0]:.3g}): "
                f"{exc} The curve is in FindLRCallback.result.",
                LRFinderWarning,
                stacklevel=2,
            )
            return
        self.lr = self.suggestion.lr
        rescale(optimizer, first_lr(optimizer, scheduler), self.lr, scheduler)
        if self.attr is not None:
            setattr(pl_module, self.attr, self.lr)
            hparams = getattr(pl_module, "hparams", None)
            if hparams is not None and self.attr in hparams:
                hparams[self.attr] = self.lr
        for logger in trainer.loggers:
            logger.log_metrics({"lrfinder/found_lr": self.lr}, step=trainer.global_step)


def _lr_scheduler(trainer: pl.Trainer) -> Any:
    """The first scheduler ``configure_optimizers`` returned, or None (none, or one that reads
    the groups' current rates); any other must have ``base_lrs``."""
    configs = trainer.lr_scheduler_configs
    if not configs:
        return None
    scheduler = configs[0].scheduler
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return None  # it lowers the groups' current rates: setting those is enough
    if not hasattr(scheduler, "base_lrs"):
        raise LRFinderError(
            "The scheduler must be a PyTorch LRScheduler (with `base_lrs`) for the found rate "
            f"to rescale it. Received: {type(scheduler).__name__}. Use LambdaLR."
        )
    return scheduler
