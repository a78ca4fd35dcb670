"""Re-finding the learning rate in a PyTorch training loop, and the pieces trainers share.

Each re-run is ``lrfinder.torch.find_lr`` from the current weights, which snapshots everything
the test changes and puts it back bit for bit, so training after a re-run differs from training
without it only by the new rate. The Lightning and Hugging Face callbacks reuse
:func:`refind` and :func:`rescale` from here.

>>> import torch  # LoopRefinder is public as lrfinder.torch.LoopRefinder
>>> model = torch.nn.Linear(4, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
>>> data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
>>> loop = LoopRefinder(model, opt, data, loss_fn=torch.nn.functional.mse_loss, initial=False)
>>> for epoch in range(2):
...     for x, y in data:
...         opt.zero_grad()
...         torch.nn.functional.mse_loss(model(x), y).backward()
...         opt.step()
...         loop.step_end()
...     record = loop.epoch_end()
>>> record.trigger, record.steps <= 40
('epochs', True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from .._core._errors import LRFinderError
from .._tuning._refind import Refind, Refinder, RefinderView, RefindPolicy, Schedule
from ._accelerate import unwrap_optimizer, unwrap_scheduler
from ._find import find_lr
from ._step import StepFn

# Where PyTorch's schedulers keep the rates they compute from: in each group (OneCycleLR) or on
# the scheduler (every LRScheduler has base_lrs; CyclicLR adds max_lrs).
_GROUP_RATES = ("lr", "initial_lr", "max_lr", "min_lr")
_SCHEDULER_RATES = ("base_lrs", "max_lrs")


def first_lr(optimizer: torch.optim.Optimizer, scheduler: Any = None) -> float:
    """The reference rate: a scheduler's peak (``max_lr``, else its first base rate), else the
    first group's rate."""
    if scheduler is None:
        return float(optimizer.param_groups[0]["lr"])
    group = optimizer.param_groups[0]
    if "max_lr" in group:
        return float(group["max_lr"])
    return float(getattr(scheduler, "max_lrs", scheduler.base_lrs)[0])


def _put_lr(group: dict[str, Any], lr: float) -> None:
    if torch.is_tensor(group["lr"]):  # capturable/fused optimizers keep a tensor rate: in place
        with torch.no_grad():
            group["lr"].fill_(lr)
    else:
        group["lr"] = lr


def rescale(
    optimizer: torch.optim.Optimizer, old: float, new: float, scheduler: Any = None
) -> None:
    """Move the rate from ``old`` to ``new``: every group's rate, and every rate a scheduler
    computes from, is multiplied by ``new / old``; a value equal to ``old`` becomes ``new`` exactly.

    Schedulers that compute from ``base_lrs`` (``LambdaLR``, Hugging Face's schedules,
    ``StepLR``, ``CosineAnnealingLR``...), from their groups' ``max_lr`` (``OneCycleLR``) or from
    ``max_lrs`` (``CyclicLR``) then follow the new peak; ratios between groups hold.
    """

    def moved(value: float) -> float:
        return new if value == old else value * (new / old)

    for group in optimizer.param_groups:
        _put_lr(group, moved(float(group["lr"])))
        for key in _GROUP_RATES[1:]:
            if key in group:
                group[key] = moved(group[key])
    for name in _SCHEDULER_RATES:
        if scheduler is not None and hasattr(scheduler, name):
            setattr(scheduler, name, [moved(lr) for lr in getattr(scheduler, name)])


def refind(
    refinder: Refinder,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Iterable[Any],
    *,
    trigger: str,
    epoch: int,
    step: int,
    scheduler: Any = None,
    peaks: list[float] | None = None,
    apply: bool = True,
    **find_options: Any,
) -> Refind:
    """Run the next range test with ``lrfinder.torch.find_lr`` (which restores the state
    exactly) and, with ``apply``, rescale the optimizer and ``scheduler`` to its answer.

    The sweep's group ratios come from ``scheduler.base_lrs``, else ``peaks``, else the groups'
    current rates; ``find_options`` go to ``find_lr``. A scheduler or optimizer prepared by
    Hugging Face Accelerate is rescaled through the one it wraps.
    """
    scheduler = unwrap_scheduler(scheduler)
    optimizer = unwrap_optimizer(optimizer)
    old = first_lr(optimizer, scheduler)
    groups = optimizer.param_groups
    current = [float(g["lr"]) for g in groups]
    # The sweep keeps the groups' ratios, read from their peaks: a schedule's current rates
    # may be 0 (the end of a linear decay), which has no ratios.
    for group, lr in zip(
        groups, scheduler.base_lrs if scheduler else peaks or current, strict=True
    ):
        _put_lr(group, lr)
    try:
        result = find_lr(
            model, optimizer, data, progress=False, **refinder.sweep_settings(), **find_options
        )
    finally:
        for group, lr in zip(groups, current, strict=True):
            _put_lr(group, lr)
    record = refinder.update(result, trigger=trigger, epoch=epoch, step=step)
    if apply:
        rescale(optimizer, old, record.new_lr, scheduler)
    return record


def logged(record: Refind) -> dict[str, float]:
    """What a trainer's logger records of one test."""
    values = {"lrfinder/lr": record.new_lr, "lrfinder/steps": float(record.steps)}
    if record.found_lr is not None:
        values["lrfinder/found_lr"] = record.found_lr
    return values


def fresh_loader(loader: Any, *, batch_size: int | None = None, seed: int = 0) -> Any:
    """A private ``DataLoader`` over ``loader``'s dataset for the re-runs.

    Re-iterating the trainer's own loader could reset a persistent worker's iterator or advance
    a sampler's epoch; this one has its own shuffling generator, no workers, and the same
    collate function.
    """
    if not isinstance(loader, torch.utils.data.DataLoader):
        raise LRFinderError(
            "The re-runs read batches from the trainer's training DataLoader, but it is a "
            f"{type(loader).__name__}. Pass `data=` (an iterable of batches) to the callback."
        )
    iterable = isinstance(loader.dataset, torch.utils.data.IterableDataset)
    return torch.utils.data.DataLoader(
        loader.dataset,
        batch_size=batch_size or loader.batch_size or 1,
        shuffle=not iterable,
        collate_fn=loader.collate_fn,
        drop_last=loader.drop_last,
        generator=None if iterable else torch.Generator().manual_seed(seed),
    )


class LoopRefinder(RefinderView):
    """Re-run the range test during a plain PyTorch training loop, on a :class:`RefindPolicy`.

    Call :meth:`step_end` after every ``optimizer.step()`` and :meth:`epoch_end` after every
    epoch; each re-runs the test when the policy says so (from the current weights, restored
    exactly afterwards) and sets the optimizer's rate for the steps that follow. Without a
    ``schedule`` the rate is constant between re-runs; with one, the rate at step ``t`` is
    ``schedule(t) * lr / peak``, so each re-run moves the schedule's peak. With a ``scheduler``
    instead, the scheduler keeps setting the rate and each re-run rescales it (its base rates).

    Args:
        model: as for ``lrfinder.torch.find_lr``.
        optimizer: as for ``lrfinder.torch.find_lr``.
        data: as for ``lrfinder.torch.find_lr``, and re-iterable (a DataLoader, a list), since
            every re-run reads it.
        loss_fn: as for ``lrfinder.torch.find_lr``.
        step_fn: as for ``lrfinder.torch.find_lr``.
        device: as for ``lrfinder.torch.find_lr``.
        policy: when and how to re-run (default :class:`lrfinder.RefindPolicy`).
        initial: run the full range test before training (at construction); else start from
            ``peak`` with a schedule, or the optimizer's rate.
        schedule: a function of the optimizer step giving the rate (e.g. a one-cycle shape).
        peak: the schedule's peak, the rate the policy re-finds (default 1.0: a shape).
        scheduler: your PyTorch LR scheduler, also one prepared by Accelerate (step it
            yourself): each re-run rescales the rates it computes from (see :func:`rescale`).
        accelerator: the ``accelerate.Accelerator`` that prepared the model, optimizer and
            data; every re-run goes through it (see ``lrfinder.torch.find_lr``).

    Example: see the module docstring.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        data: Iterable[Any],
        *,
        loss_fn: Callable[..., torch.Tensor] | None = None,
        step_fn: StepFn | None = None,
        policy: RefindPolicy | None = None,
        initial: bool = True,
        schedule: Schedule | None = None,
        peak: float = 1.0,
        device: torch.device | str | None = None,
        scheduler: Any = None,
        accelerator: Any = None,
    ) -> None:
        if isinstance(data, Iterator):  # not iter(data): a DataLoader's iter() draws RNG
            raise LRFinderError(
                "`data` must be re-iterable (a DataLoader, a list): each re-run reads it anew, "
                f"and a one-shot iterator would lose the batches. Received: {type(data).__name__}"
            )
        if scheduler is not None and schedule is not None:
            raise LRFinderError(
                "Pass one of `schedule` (a function of the step that lrfinder applies) and "
                "`scheduler` (a PyTorch scheduler you step). Received both: "
                f"schedule={schedule!r}, scheduler={scheduler!r}"
            )
        self.model, self.optimizer, self.data = model, optimizer, data
        self.scheduler = scheduler
        self._find_options = {
            "loss_fn": loss_fn,
            "step_fn": step_fn,
            "device": device,
            "accelerator": accelerator,
        }
        reference = first_lr(unwrap_optimizer(optimizer), unwrap_scheduler(scheduler))
        start = None if initial else (peak if schedule is not None else reference)
        self.refinder = Refinder(policy, lr=start)
        self._schedule = None if schedule is None else self.refinder.scaled(schedule, peak=peak)
        self._ratios = [float(g["lr"]) / first_lr(optimizer) for g in optimizer.param_groups]
        self.epoch = 0
        self.step = 0
        if initial:
            self._run("initial")
        self._apply()

    @property
    def lr(self) -> float:
        """The current rate (with a schedule: its peak)."""
        return float(self.refinder.lr)  # type: ignore[arg-type]

    def step_end(self) -> Refind | None:
        """Count one optimizer step; re-run when due; set the next step's rate."""
        self.step += 1
        trigger = self.refinder.step_end(self.step)
        record = self._run(trigger) if trigger else None
        self._apply()
        return record

    def epoch_end(self, metric: float | None = None) -> Refind | None:
        """Count one epoch (``metric``: the loss a plateau policy watches); re-run when due."""
        self.epoch += 1
        trigger = self.refinder.epoch_end(self.epoch, metric=metric)
        record = self._run(trigger) if trigger else None
        self._apply()
        return record

    def _run(self, trigger: str) -> Refind:
        return refind(
            self.refinder,
            self.model,
            self.optimizer,
            self.data,
            trigger=trigger,
            epoch=self.epoch,
            step=self.step,
            scheduler=self.scheduler,
            peaks=[self.lr * r for r in self._ratios] if self.refinder.lr else None,
            apply=self.scheduler is not None,
            **self._find_options,
        )

    def _apply(self) -> None:
        if self.scheduler is not None:
            return  # the scheduler sets the rate; each re-run rescaled it
        lr = self.lr if self._schedule is None else self._schedule(self.step)
        for group, ratio in zip(self.optimizer.param_groups, self._ratios, strict=True):
            _put_lr(group, lr * ratio)
