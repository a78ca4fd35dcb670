"""The range test in the Hugging Face ``transformers`` Trainer, before and during training.

:class:`RefindCallback` is a ``TrainerCallback``: when training starts it runs lrfinder's range
test (Smith 2015/2017, section 3.3) on the Trainer's own model and optimizer and rescales the
Trainer's learning-rate schedule to the found peak; then it re-runs the test whenever its
:class:`lrfinder.RefindPolicy` says so. Every test goes through ``lrfinder.torch.find_lr``, so the
model, the optimizer and the random states are put back bit for bit: only the rate changes.

>>> from transformers import Trainer
>>> from lrfinder.huggingface import RefindCallback
>>> trainer = Trainer(model=model, args=args, train_dataset=train)  # doctest: +SKIP
>>> trainer.add_callback(RefindCallback(trainer=trainer))  # doctest: +SKIP
>>> trainer.train()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Unpack

from ._core._errors import LRFinderError
from ._core._frameworks import missing_framework

try:
    import torch
    import transformers
except ModuleNotFoundError as exc:
    raise missing_framework(
        exc, module="lrfinder.huggingface", framework="Hugging Face transformers", extra="trainers"
    ) from exc

from ._core._rangetest import SweepOptions
from ._core._result import RangeTestResult
from ._tuning._refind import Refinder, RefinderView, RefindPolicy, due_at_epoch
from .torch._find import find_lr as torch_find_lr
from .torch._refind import first_lr, fresh_loader, logged, refind, rescale

__all__ = ["RefindCallback", "find_lr"]


def _model_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """The loss a Hugging Face model computes itself when the batch holds its labels."""
    out = model(**batch) if isinstance(batch, dict) else model(*batch)
    loss = out.get("loss") if isinstance(out, dict) else getattr(out, "loss", None)
    if loss is None:
        raise LRFinderError(
            "The model returned no loss for the range test: batches must hold `labels`. "
            "Pass step_fn=lambda model, batch: <loss tensor> to compute it yourself."
        )
    return loss


class RefindCallback(RefinderView, transformers.TrainerCallback):
    """Run the range test when training starts and re-run it during training, on a policy.

    The Trainer's schedules compute ``base_lr * f(step)``; the found rate becomes the new
    ``base_lr`` of every parameter group (their ratios hold), so warm-up and decay keep their
    shape around the new peak. Each test trains one optimizer step per batch of
    ``per_device_train_batch_size`` examples with ``model(**batch).loss`` in full precision
    (pass ``step_fn`` for anything else), reading a private shuffled loader over the training
    set, so the Trainer's own data order is untouched.

    Args:
        policy: when and how to re-run (default :class:`lrfinder.RefindPolicy`: every epoch).
        initial: run the full range test when training starts; else start from
            ``args.learning_rate``.
        monitor: the evaluation metric a plateau policy watches (``eval_loss``); the check
            happens at the start of each epoch, after the previous epoch's evaluation.
        trainer: the Trainer, to log each test's rates through ``trainer.log`` (its reporting
            integrations and ``state.log_history``) as ``lrfinder/found_lr``,
            ``lrfinder/lr`` and ``lrfinder/steps``; without it they go to the ``lrfinder``
            Python logger only.
        data: the batches the tests read, instead of the private loader.
        step_fn: ``step_fn(model, batch) -> loss`` instead of ``model(**batch).loss``.

    Attributes:
        refinder: the :class:`lrfinder.Refinder`; ``refinder.history`` lists every test.
    """

    def __init__(
        self,
        *,
        policy: RefindPolicy | None = None,
        initial: bool = True,
        monitor: str = "eval_loss",
        trainer: transformers.Trainer | None = None,
        data: Iterable[Any] | None = None,
        step_fn: Any = None,
    ) -> None:
        self.policy = policy or RefindPolicy()
        self.initial = initial
        self.monitor = monitor
        self.trainer = trainer
        self.data = data
        self.step_fn = step_fn or _model_loss
        self.refinder = Refinder(self.policy)
        self._epochs_done = 0
        self._metrics: dict[str, float] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        scheduler = kwargs.get("lr_scheduler")
        if scheduler is None or not hasattr(scheduler, "base_lrs"):
            raise LRFinderError(
                "The Trainer's scheduler must compute its rates from `base_lrs` (every "
                "`lr_scheduler_type` does) for the found rate to rescale it. Received: "
                f"{type(scheduler).__name__}"
            )
        if self.data is None:
            self.data = fresh_loader(
                kwargs["train_dataloader"],
                batch_size=args.per_device_train_batch_size,
                seed=args.seed,
            )
        self._epochs_done = 0
        if self.initial:
            self._run(state, kwargs, "initial")
        else:
            self.refinder.lr = first_lr(kwargs["optimizer"], scheduler)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._metrics = {k: float(v) for k, v in (kwargs.get("metrics") or {}).items()}

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._epochs_done += 1

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Runs after the previous epoch's evaluation, so a plateau policy sees its loss.
        trigger = due_at_epoch(
            self.refinder,
            self._epochs_done,
            self._metrics,
            self.monitor,
            "Evaluate every epoch (eval_strategy='epoch'), or pass another `monitor`.",
        )
        if trigger:
            self._run(state, kwargs, trigger)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= state.max_steps:  # training is over: nothing to re-find for
            return
        trigger = self.refinder.step_end(state.global_step)
        if trigger:
            self._run(state, kwargs, trigger)

    def _run(self, state: Any, kwargs: dict[str, Any], trigger: str) -> None:
        optimizer = kwargs["optimizer"]
        # accelerate wraps the optimizer; the test snapshots and steps the one inside.
        optimizer = getattr(optimizer, "optimizer", optimizer)
        model = kwargs["model"]
        record = refind(
            self.refinder,
            model,
            optimizer,
            self.data,  # type: ignore[arg-type]
            trigger=trigger,
            epoch=self._epochs_done,
            step=state.global_step,
            scheduler=kwargs["lr_scheduler"],
            step_fn=self.step_fn,
            device=next(model.parameters()).device,
        )
        if self.trainer is not None:  # else Refinder.update's record on the lrfinder logger
            self.trainer.log(logged(record))


def find_lr(
    trainer: transformers.Trainer,
    *,
    method: str | None = None,
    for_schedule: str = "constant",
    data: Iterable[Any] | None = None,
    step_fn: Any = None,
    **sweep: Unpack[SweepOptions],
) -> RangeTestResult:
    """Run the range test on a Trainer before ``trainer.train()``, and set the rate it finds.

    The one-off finder: the test (Smith 2015/2017, section 3.3) trains the Trainer's model with
    the optimizer the Trainer trains with (its own ``create_optimizer()``, or the one passed as
    ``optimizers=``), through ``lrfinder.torch.find_lr``, which puts the weights, the optimizer
    and the random states back bit for bit. Then the suggested rate is written where training
    will read it: the optimizer's parameter groups (their ratios hold; the Trainer keeps this
    optimizer), a scheduler passed in ``optimizers=`` (its ``base_lrs``), and
    ``trainer.args.learning_rate``, from which the Trainer builds its schedule. Training then
    equals training with that rate set by hand.

    Each test step is ``trainer.compute_loss(model, batch)`` (the loss ``train()`` optimizes,
    label smoothing and overrides included) on batches of ``per_device_train_batch_size``
    from a private loader over the training set, shuffled by a generator seeded with
    ``args.seed``, in full precision. DeepSpeed and FSDP create the optimizer inside
    ``train()``; run ``lrfinder.torch.find_lr`` on the bare model there.

    Args:
        trainer: a ``transformers.Trainer`` with a ``train_dataset``, before ``train()``.
        method: the suggestion rule (default :data:`lrfinder.DEFAULT_METHOD`).
        for_schedule: ``"constant"``, or ``"onecycle"`` when the rate is a schedule's peak.
        data: the batches the test reads, instead of the private loader.
        step_fn: ``step_fn(model, batch) -> loss`` instead of ``trainer.compute_loss``.
        **sweep: the range test's keywords (``start_lr``, ``end_lr``, ``num_steps``, ...).

    Returns:
        the :class:`lrfinder.RangeTestResult`; the rate set is
        ``result.suggest(method, for_schedule=for_schedule).lr``, now in
        ``trainer.args.learning_rate``.

    Examples:
        >>> trainer = Trainer(model=model, args=args, train_dataset=train)  # doctest: +SKIP
        >>> result = lrfinder.huggingface.find_lr(trainer)  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
    """
    if not isinstance(trainer, transformers.Trainer):
        raise LRFinderError(
            f"`trainer` must be a transformers.Trainer. Received a {type(trainer).__name__}"
        )
    if trainer.train_dataset is None and data is None:
        raise LRFinderError(
            "The range test reads the training set, and this Trainer has none "
            "(train_dataset=None). Pass train_dataset= to the Trainer, or data= here."
        )
    model = trainer.model
    if not isinstance(model, torch.nn.Module):
        raise LRFinderError(
            "The range test trains the Trainer's model, and this Trainer has none. "
            f"Received: trainer.model={model!r}. Pass model= to the Trainer."
        )
    args = trainer.args
    optimizer = trainer.create_optimizer()  # the one train() will use: kept on the Trainer
    optimizer = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
    scheduler = trainer.lr_scheduler  # None unless passed in `optimizers=`
    if data is None:
        data = fresh_loader(
            trainer.get_train_dataloader(),
            batch_size=args.per_device_train_batch_size,
            seed=args.seed,
        )
    result = torch_find_lr(
        model,
        optimizer,
        data,
        step_fn=step_fn or (lambda m, batch: trainer.compute_loss(m, batch)),
        device=next(model.parameters()).device,
        progress=False,
        **sweep,
    )
    lr = result.suggest(method, for_schedule=for_schedule).lr
    old = first_lr(optimizer, scheduler)
    rescale(optimizer, old, lr, scheduler)
    args.learning_rate = lr if args.learning_rate == old else args.learning_rate * (lr / old)
    return result
