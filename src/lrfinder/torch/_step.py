"""One range-test step in PyTorch: micro-batches, mixed precision, a gradient scaler, validation."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch

from .._core._errors import LRFinderError
from .._core._find import MAX_SKIPS_IN_A_ROW, drive
from .._core._progress import progress_bar
from .._core._rangetest import RangeTest
from ._ddp import SKIP, Skip, agree, is_distributed, no_sync, tell_failure

logger = logging.getLogger("lrfinder")

StepFn = Callable[[torch.nn.Module, Any], Any]


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        # `.to` on a tensor already there returns it too, but costs a dispatch through torch.
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        for v in batch:
            if not (isinstance(v, torch.Tensor) and v.device == device):
                break
        else:  # all there (the common batch): a tuple as it is, a list copied, as below
            return batch if isinstance(batch, tuple) else type(batch)(batch)
        moved = [to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def pair_step(loss_fn: Callable[..., torch.Tensor]) -> StepFn:
    def step(model: torch.nn.Module, batch: Any) -> torch.Tensor:
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2):
            raise LRFinderError(
                "Without `step_fn`, each batch must be an (inputs, targets) pair. Received a "
                f"{type(batch).__name__}"
                + (f" of length {len(batch)}" if isinstance(batch, (list, tuple)) else "")
                + ". Pass step_fn=lambda model, batch: <loss tensor> for other batches."
            )
        inputs, targets = batch
        return loss_fn(model(inputs), targets)

    return step


def loss_from_output(output: Any) -> torch.Tensor:
    """The loss inside a model's output: a tensor, ``output.loss``, ``output["loss"]`` or
    ``output[0]``.

    Hugging Face models return the loss as ``.loss`` (``ModelOutput``, also a dict) when the batch
    holds ``labels``, and first in a tuple with ``return_dict=False``; many research models return
    a dict with a ``"loss"`` entry.

    Examples:
        >>> import torch
        >>> loss_from_output({"loss": torch.tensor(0.5), "logits": torch.zeros(2)}).item()
        0.5
    """
    if torch.is_tensor(output):
        return output
    loss = getattr(output, "loss", None)
    if loss is None and isinstance(output, Mapping):
        loss = output.get("loss")
    if loss is None and isinstance(output, (list, tuple)) and output:
        loss = output[0]
    if not torch.is_tensor(loss):
        raise LRFinderError(
            "The model's output holds no loss tensor: expected a tensor, an object with `.loss`, "
            f"a dict with 'loss' or a tuple whose first item is the loss. Received a "
            f"{type(output).__name__}. Pass the labels in the batch (Hugging Face), or a step_fn "
            "that computes the loss."
        )
    return loss


def forward_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """A ``step_fn`` for models that compute their own loss: call the model on the batch and take
    :func:`loss_from_output` of what it returns.

    A dict batch is passed as keywords (``model(**batch)``, the Hugging Face convention), a tuple or
    list as positional arguments, anything else as the one argument.

    Examples:
        >>> import torch
        >>> class Net(torch.nn.Module):
        ...     def forward(self, x, labels):
        ...         return {"loss": ((x - labels) ** 2).mean()}
        >>> forward_loss(Net(), {"x": torch.ones(2), "labels": torch.zeros(2)}).item()
        1.0
    """
    if isinstance(batch, Mapping):
        return loss_from_output(model(**batch))
    if isinstance(batch, (list, tuple)):
        return loss_from_output(model(*batch))
    return loss_from_output(model(batch))


def _check_loss(loss: Any) -> torch.Tensor:
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise LRFinderError(
            "The loss must be a one-element tensor (so lrfinder can call backward()). "
            f"Received: {type(loss).__name__}"
            + (f" of shape {tuple(loss.shape)}" if torch.is_tensor(loss) else "")
            + ". For dict or Hugging Face outputs use step_fn=lrfinder.torch.forward_loss."
        )
    return loss


def set_lrs(optimizers: Sequence[torch.optim.Optimizer], lrs: Sequence[float]) -> None:
    """Give every group of every optimizer its rate, in place when it is a tensor (capturable)."""
    groups = (
        optimizers[0].param_groups
        if len(optimizers) == 1
        else [g for opt in optimizers for g in opt.param_groups]
    )
    for group, lr in zip(groups, lrs, strict=True):
        current = group.get("lr")
        if isinstance(current, torch.Tensor):
            with torch.no_grad():
                current.copy_(torch.as_tensor(lr, dtype=current.dtype))
        else:
            group["lr"] = lr


class _Readback:
    """The losses of one optimizer step's micro-batches, read on the host only when asked.

    On CUDA they are copied without blocking into pinned host memory behind an event, so reading
    waits for this step alone, not for the steps queued after it. :meth:`value` combines them as
    :meth:`TorchStep._window` does, so a deferred curve equals an immediate one.
    """

    __slots__ = ("event", "host", "losses")

    def __init__(self, losses: list[torch.Tensor]) -> None:
        self.losses = losses
        self.host: torch.Tensor | None = None
        self.event: Any = None
        first = losses[0]
        if first.device.type == "cuda":
            stacked = torch.stack([t.reshape(()) for t in losses])
            self.host = torch.empty(stacked.shape, dtype=stacked.dtype, pin_memory=True)
            self.host.copy_(stacked, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()

    def values(self) -> list[float]:
        if self.host is None:
            return [float(t.item()) for t in self.losses]
        self.event.synchronize()
        return list(self.host.tolist())

    def value(self) -> float:
        total = 0.0
        values = self.values()
        for v in values:
            if not math.isfinite(v):
                return v
            total += v
        return total / len(values)


class TorchStep:
    """``step(lr) -> loss`` for :func:`lrfinder._core._find.drive`, over one PyTorch setup.

    One call is one optimizer step: ``accumulation`` micro-batches, each loss scaled by
    ``1/accumulation`` and back-propagated, then every optimizer steps; the returned loss is the
    window's mean, averaged over the ranks under torch.distributed. When a gradient scaler skips
    the step (inf/NaN gradients), the step is run again on the next batches at the same rate, so
    the sweep advances only on steps that ran; the skipped steps are counted in ``skipped``.

    ``backward`` and ``autocast`` replace ``loss.backward()`` and ``torch.autocast`` (Hugging
    Face Accelerate's ``accelerator.backward`` and ``accelerator.autocast``); ``backward`` gets
    each micro-batch's loss as computed and does the accumulation and gradient scaling itself.
    """

    def __init__(
        self,
        rt: RangeTest | None,
        model: torch.nn.Module,
        optimizers: Sequence[torch.optim.Optimizer],
        compute_loss: StepFn,
        batches: Iterator[Any],
        *,
        device: torch.device,
        accumulation: int,
        autocast_dtype: torch.dtype | None,
        scaler: Any,
        val_batches: Sequence[Any] = (),
        val_every: int = 1,
        backward: Callable[[torch.Tensor], None] | None = None,
        autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.rt = rt
        self.model = model
        self.optimizers = optimizers
        self.compute_loss = compute_loss
        self.batches = batches
        self.device = device
        self.accumulation = accumulation
        self.autocast_dtype = autocast_dtype
        self.scaler = scaler
        self.val_batches = val_batches
        self.val_every = val_every
        self.backward = backward
        self.autocast = autocast
        self.skipped: list[int] = []
        self.skipped_batches: list[int] = []  # the step returned None: the step they delayed
        self.gave_up = False
        self.val_losses: list[float] = []
        self.val_s = 0.0
        self._distributed = is_distributed()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast is not None:
            return self.autocast()
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _forward(self, batch: Any) -> torch.Tensor | None:
        """The loss of one batch, or None when the step returned None (skip this batch)."""
        if self.autocast is None and self.autocast_dtype is None:
            output = self.compute_loss(self.model, to_device(batch, self.device))
        else:
            with self._autocast():
                output = self.compute_loss(self.model, to_device(batch, self.device))
        return None if output is None else _check_loss(output)

    def _backward(self, loss: torch.Tensor) -> None:
        if self.backward is not None:  # it accumulates and scales by itself
            self.backward(loss)
            return
        if self.accumulation > 1:  # no extra autograd node on the common path
            loss = loss / self.accumulation
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def _window(self) -> float | Skip | None:
        """One optimizer step's micro-batches and backward passes; the mean loss, None when the
        data ran out, or SKIP when the step returned None for a batch (the window is dropped)."""
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        if self.accumulation == 1 and not self._distributed:
            # The common case without the accumulation and all-reduce bookkeeping.
            batch = next(self.batches, None)
            if batch is None:
                return None
            loss = self._forward(batch)
            if loss is None:  # the step skips this batch
                return SKIP
            read = float(loss.item())
            if math.isfinite(read):
                self._backward(loss)
            return read
        total = 0.0
        for micro in range(self.accumulation):
            with no_sync(self.model, last=micro == self.accumulation - 1):
                with tell_failure(self.device):  # an error here reaches every rank
                    batch = next(self.batches, None)
                    micro_loss = None if batch is None else self._forward(batch)
                    value = None if micro_loss is None else float(micro_loss.detach().item())
                # A step that returns None skips its batch (as in Lightning), on every rank.
                mean = agree(value, self.device, skip=batch is not None and micro_loss is None)
                if isinstance(mean, Skip):
                    return mean
                if mean is None or micro_loss is None or not math.isfinite(mean):
                    return mean
                total += mean
                self._backward(micro_loss)
        return total / self.accumulation

    def _window_deferred(self) -> _Readback | None:
        """:meth:`_window` without reading the loss: backward runs whatever it is (a NaN step is
        never recorded past, and the restore undoes it); None when the data ran out."""
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        losses = []
        for micro in range(self.accumulation):
            batch = next(self.batches, None)
            if batch is None:
                return None
            with no_sync(self.model, last=micro == self.accumulation - 1):
                loss = self._forward(batch)
                if loss is None:
                    raise LRFinderError(
                        "The step returned None (skip this batch), which a loss read one step "
                        "late cannot follow. Pass defer_loss=False to skip batches."
                    )
                losses.append(loss.detach())
                self._backward(loss)
        return _Readback(losses)

    def _optimizer_step(self) -> bool:
        """Step every optimizer; False when the gradient scaler skipped the step."""
        if self.scaler is None:
            for opt in self.optimizers:
                opt.step()
            return True
        scale = self.scaler.get_scale()
        for opt in self.optimizers:
            self.scaler.step(opt)
        self.scaler.update()
        # The scaler lowers its scale exactly when it found inf/NaN gradients and skipped.
        return not self.scaler.get_scale() < scale

    def __call__(self, lr: float) -> float | None:
        rt = self.rt
        assert rt is not None, "a TorchStep without a RangeTest only trains (see train())"
        loss = self.train(rt.group_lrs, at=rt.step)
        if loss is None and self.gave_up:
            rt.stop("nonfinite")
            return None
        if loss is not None and self.val_batches:
            due = math.isfinite(loss) and rt.step % self.val_every == 0
            self.val_losses.append(self.evaluate() if due else math.nan)
        return loss

    def launch(self, ahead: int) -> Callable[[], float] | str:
        """One optimizer step, ``ahead`` steps past the last recorded one, whose loss is read
        later (:func:`lrfinder._core._find.drive_deferred`); or why the test stops now.

        A step the gradient scaler skips is known at once (reading the scale waits anyway), and
        is retried as :meth:`train` does; a skip with a non-finite loss ends the window there,
        as an immediate read would have.
        """
        rt = self.rt
        assert rt is not None, "a TorchStep without a RangeTest only trains (see train())"
        at = rt.step + ahead
        group_lrs = rt.group_lrs if ahead == 0 else rt.group_lrs_at(at)
        set_lrs(self.optimizers, group_lrs)
        skips_in_a_row = 0
        while True:
            window = self._window_deferred()
            if window is None:
                return "data_exhausted"
            if self._optimizer_step():
                return window.value
            value = window.value()
            if not math.isfinite(value):
                return lambda: value
            self.skipped.append(at)
            logger.info(
                "Gradient scaler skipped a step at lr=%.3g (inf/NaN gradients).", group_lrs[0]
            )
            skips_in_a_row += 1
            if skips_in_a_row >= MAX_SKIPS_IN_A_ROW:
                self.gave_up = True
                return "nonfinite"

    def train(self, group_lrs: Sequence[float], *, at: int) -> float | None:
        """One optimizer step with each group at its rate; its loss, or None when the data ran
        out or the gradient scaler skipped ``MAX_SKIPS_IN_A_ROW`` steps (then ``gave_up``)."""
        set_lrs(self.optimizers, group_lrs)
        skips_in_a_row = 0
        dropped_in_a_row = 0
        while True:
            loss = self._window()
            if isinstance(loss, Skip):
                dropped_in_a_row = self._dropped(at, dropped_in_a_row, group_lrs[0])
                continue
            if loss is None or not math.isfinite(loss) or self._optimizer_step():
                return loss
            self.skipped.append(at)
            logger.info(
                "Gradient scaler skipped a step at lr=%.3g (inf/NaN gradients).", group_lrs[0]
            )
            skips_in_a_row += 1
            if skips_in_a_row >= MAX_SKIPS_IN_A_ROW:
                self.gave_up = True
                return None

    def _dropped(self, at: int, in_a_row: int, lr: float) -> int:
        """Count a batch the step returned None for (skipped) at step ``at``; the new count of
        those in a row, or an error past ``MAX_SKIPS_IN_A_ROW``."""
        self.skipped_batches.append(at)
        in_a_row += 1
        if in_a_row >= MAX_SKIPS_IN_A_ROW:
            raise LRFinderError(
                f"The step returned None (skip this batch) for {in_a_row} batches in a row at "
                f"lr={lr:.3g}, so the test cannot go on. Return the loss tensor for the batches "
                "to train on; None skips one."
            )
        return in_a_row

    def _plain(self) -> bool:
        """One micro-batch a step on one process, no scaler, autocast, backward hook,
        validation or tensor rates: the setup :meth:`run` drives without the general step."""
        return (
            self.accumulation == 1
            and not self._distributed
            and self.scaler is None
            and self.autocast is None
            and self.autocast_dtype is None
            and self.backward is None
            and not self.val_batches
            and not any(
                isinstance(g.get("lr"), torch.Tensor)
                for opt in self.optimizers
                for g in opt.param_groups
            )
        )

    def run(self, *, progress: bool) -> None:
        """The range test over this step: :func:`lrfinder._core._find.drive`, or in the
        :meth:`_plain` setup the same loop with the step's pieces inlined.

        On a small model the step's method calls (rates, window, forward, backward, optimizer
        step, each checking for the features this setup lacks) cost more than the bookkeeping
        itself; the inlined loop records the same curve.
        """
        rt = self.rt
        assert rt is not None, "a TorchStep without a RangeTest only trains (see train())"
        if not self._plain():
            drive(rt, self, progress=progress)
            return
        groups = [g for opt in self.optimizers for g in opt.param_groups]
        zero_grads = [opt.zero_grad for opt in self.optimizers]
        opt_steps = [opt.step for opt in self.optimizers]
        model, compute_loss, batches, device = (
            self.model,
            self.compute_loss,
            self.batches,
            self.device,
        )
        record, isfinite = rt.record, math.isfinite
        bar = progress_bar(progress, rt.num_steps)
        try:
            done = rt.done
            while not done:
                lrs = rt.group_lrs
                for group, lr in zip(groups, lrs, strict=True):
                    group["lr"] = lr
                dropped_in_a_row = 0
                while True:
                    for zero_grad in zero_grads:
                        zero_grad(set_to_none=True)
                    batch = next(batches, None)
                    if batch is None:
                        rt.stop("data_exhausted")
                        return
                    loss = compute_loss(model, to_device(batch, device))
                    if loss is not None:
                        break
                    dropped_in_a_row = self._dropped(rt.step, dropped_in_a_row, lrs[0])
                read = float(_check_loss(loss).item())
                if isfinite(read):
                    loss.backward()
                    for opt_step in opt_steps:
                        opt_step()
                done = record(read)
                bar.step(rt)
        finally:
            bar.close()

    def evaluate(self) -> float:
        """The mean loss over the fixed validation batches, in eval() mode under no_grad."""
        started = time.perf_counter()
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            with tell_failure(self.device), torch.no_grad(), self._autocast():
                losses = [
                    float(_check_loss(self.compute_loss(self.model, to_device(b, self.device))))
                    for b in self.val_batches
                ]
        finally:
            for m, training in modes:
                m.training = training
        mean = agree(sum(losses) / len(losses), self.device)
        self.val_s += time.perf_counter() - started
        # NaN marks "not measured" in the result, so a non-finite validation loss is inf.
        return mean if isinstance(mean, float) and math.isfinite(mean) else math.inf
