"""find_lr for PyTorch: snapshot, sweep with the user's model and optimizer, restore."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Unpack

import numpy as np
import torch

from .._core._checks import check_count
from .._core._errors import LRFinderError, LRFinderWarning
from .._core._find import cycle, drive_deferred
from .._core._rangetest import RangeTest, SweepOptions, ratios_to_first, sweep_options
from .._core._result import RangeTestResult
from .._core._signals import signals_held, terminate_cleanly
from ._accelerate import (
    Hooks,
    loader_state,
    refuse_unprepared_step,
    unwrap_optimizer,
    unwrap_scheduler,
)
from ._ddp import is_distributed, rank, world_size
from ._snapshot import Snapshot
from ._step import (
    StepFn,
    TorchStep,
    pair_step,
    to_device,
)

_AMP_DTYPES = (torch.float16, torch.bfloat16)


def as_optimizers(
    optimizer: Any, fix: str = "Pass several optimizers as a non-empty list."
) -> list[torch.optim.Optimizer]:
    """``optimizer`` as a list: one optimizer, or a non-empty list of them; else the error,
    ending with ``fix``."""
    optimizers = [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else optimizer
    if (
        not isinstance(optimizers, Sequence)
        or not optimizers
        or not all(isinstance(o, torch.optim.Optimizer) for o in optimizers)
    ):
        raise LRFinderError(
            "`optimizer` must be a torch.optim.Optimizer. "
            f"Received: {type(optimizer).__name__}. {fix}"
        )
    return list(optimizers)


def _optimizers(optimizer: Any) -> list[torch.optim.Optimizer]:
    optimizers = as_optimizers(optimizer)
    params = [p for opt in optimizers for group in opt.param_groups for p in group["params"]]
    if not any(p.requires_grad for p in params):
        raise LRFinderError(
            "No parameter requires grad: every parameter the optimizer updates is frozen "
            f"(requires_grad=False; {len(params)} parameter tensor(s)), so no step can train "
            "the model. Unfreeze the layers to train (`p.requires_grad_(True)`), or build the "
            "optimizer over the trainable ones."
        )
    return list(optimizers)


def _amp(
    amp: bool, amp_dtype: torch.dtype | None, scaler: Any, device: torch.device
) -> tuple[torch.dtype | None, Any]:
    """The autocast dtype (None: full precision) and the gradient scaler (None: no scaling)."""
    if not (amp or scaler is not None):
        return None, None
    dtype = amp_dtype or (torch.float16 if device.type == "cuda" else torch.bfloat16)
    if dtype not in _AMP_DTYPES:
        raise LRFinderError(
            "`amp_dtype` must be torch.float16 or torch.bfloat16. "
            f"Received: amp_dtype={amp_dtype!r}"
        )
    if scaler is not None and not all(
        callable(getattr(scaler, name, None)) for name in ("scale", "step", "update", "get_scale")
    ):
        raise LRFinderError(
            "`scaler` must be a torch.amp.GradScaler (or None for lrfinder's own). "
            f"Received: scaler={scaler!r}"
        )
    if scaler is None and dtype == torch.float16:
        # float16 underflows small gradients; bfloat16 has float32's range and needs no scaler.
        scaler = torch.amp.GradScaler(device.type)
    return dtype, scaler


def _is_lazy(model: torch.nn.Module) -> bool:
    uninitialised = torch.nn.parameter.UninitializedParameter
    return any(isinstance(p, uninitialised) for p in model.parameters())


def _materialize(model: torch.nn.Module, compute_loss: StepFn, batch: Any, device: Any) -> None:
    """Initialise lazy modules with one forward pass in eval() mode, as the first step would."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            compute_loss(model, to_device(batch, device))
    finally:
        for m, training in modes:
            m.training = training


def _loader_generators(data: Any) -> list[tuple[torch.Generator, torch.Tensor]]:
    """The private generators a DataLoader shuffles with, and their states, to put back."""
    if not isinstance(data, torch.utils.data.DataLoader):
        return []
    if data.persistent_workers and getattr(data, "_iterator", None) is not None:
        warnings.warn(
            "`data` is a DataLoader with persistent_workers=True that is being iterated: the "
            "range test iterates it anew, which resets the workers' iterator and so the epoch "
            "in progress. Pass another DataLoader over the same dataset.",
            LRFinderWarning,
            stacklevel=4,
        )
    found = {
        id(g): g
        for g in (data.generator, getattr(data.sampler, "generator", None))
        if isinstance(g, torch.Generator)
    }
    return [(g, g.get_state()) for g in found.values()]


def _deferred(
    defer_loss: bool | None, device: torch.device, val_data: Any, accelerated: bool = False
) -> bool:
    """Whether to read the losses one step late (see ``find_lr``'s ``defer_loss``)."""
    if defer_loss is not None and not isinstance(defer_loss, bool):
        raise LRFinderError(
            f"`defer_loss` must be True, False or None (on for CUDA). Received: {defer_loss!r}"
        )
    blocker = (
        ("a validation loss", "val_data")
        if val_data is not None
        else ("torch.distributed", "an initialised process group")
        if is_distributed()
        else ("Accelerate's backward and gradient accumulation", "accelerator")
        if accelerated
        else None
    )
    if defer_loss and blocker is not None:
        raise LRFinderError(
            f"`defer_loss=True` reads each loss one step late, but {blocker[0]} needs every "
            f"step's loss at once. Received: defer_loss=True with {blocker[1]}. "
            "Leave defer_loss=None."
        )
    if defer_loss is None:
        return device.type == "cuda" and blocker is None
    return defer_loss


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What find_lr and tune_lr both check and derive from their PyTorch arguments."""

    optimizers: list[torch.optim.Optimizer]
    accumulation: int
    base_lrs: list[float]
    ratios: list[float]
    device: torch.device
    autocast_dtype: torch.dtype | None
    scaler: Any
    compute_loss: StepFn
    # Hugging Face Accelerate: the Accelerator's backward and autocast, None without one.
    accelerate: Hooks | None = None

    def step_hooks(self) -> dict[str, Any]:
        """TorchStep's ``backward`` and ``autocast``: the Accelerator's, or its own."""
        if self.accelerate is None:
            return {}
        return {"backward": self.accelerate.backward, "autocast": self.accelerate.autocast}

    def extras(self, schedulers: Sequence[Any], scaler: Any) -> list[Any]:
        """What the snapshot keeps beside the model and optimizers: the schedulers (the ones
        inside Accelerate's prepared schedulers) and the user's or the Accelerator's scaler."""
        if scaler is None and self.accelerate is not None:
            scaler = self.accelerate.scaler
        return [*map(unwrap_scheduler, schedulers), *([scaler] if scaler is not None else [])]


def prepare(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    *,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: StepFn | None,
    device: torch.device | str | None,
    accumulation_steps: int,
    amp: bool,
    amp_dtype: torch.dtype | None,
    scaler: Any,
    accelerator: Any = None,
) -> Prepared:
    """Check the arguments every PyTorch entry point shares, and derive what the steps need."""
    if not isinstance(model, torch.nn.Module):
        raise LRFinderError(f"`model` must be a torch.nn.Module. Received: {type(model).__name__}")
    if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
        raise LRFinderError(
            "lrfinder trains the model, so it needs gradients, but it was called under "
            f"torch.{'inference_mode' if torch.is_inference_mode_enabled() else 'no_grad'}(). "
            "Call it outside that block."
        )
    if (loss_fn is None) == (step_fn is None):
        raise LRFinderError(
            "Pass exactly one of `loss_fn` (for (inputs, targets) batches) and `step_fn` "
            f"(for any batch). Received: loss_fn={loss_fn!r}, step_fn={step_fn!r}"
        )
    optimizers = _optimizers(optimizer)
    refuse_unprepared_step(optimizers, accelerator)
    optimizers = [unwrap_optimizer(o) for o in optimizers]
    closure = [type(o).__name__ for o in optimizers if isinstance(o, torch.optim.LBFGS)]
    if closure:
        raise LRFinderError(
            f"{closure[0]} needs a closure that re-evaluates the loss at every step, which the "
            "range test cannot drive. Run the test with a first-order optimizer (SGD, Adam), or "
            "drive your own loop with lrfinder.find_lr(step)."
        )
    accumulation = check_count("accumulation_steps", accumulation_steps)
    hooks = None
    if accelerator is not None:
        hooks = Hooks(accelerator, accumulation)
        if amp or amp_dtype is not None:
            raise LRFinderError(
                "With `accelerator`, mixed precision is the Accelerator's (`mixed_precision=`), "
                "run through accelerator.autocast(). Received: "
                f"amp={amp!r}, amp_dtype={amp_dtype!r}. Leave `amp` and `amp_dtype` out."
            )
        accumulation = hooks.accumulation
        device = hooks.device if device is None else device
    base_lrs = [float(g["lr"]) for opt in optimizers for g in opt.param_groups]
    ratios = ratios_to_first(base_lrs, what="parameter group's `lr`", name="lr")
    if device is None:
        first = next(iter(model.parameters()), None)
        if first is None:
            raise LRFinderError("`model` has no parameters to train.")
        device = first.device
    device = torch.device(device)
    if hooks is None:
        autocast_dtype, amp_scaler = _amp(amp, amp_dtype, scaler, device)
    else:  # accelerator.backward scales by the Accelerator's scaler, which steps here too
        autocast_dtype, amp_scaler = None, scaler if scaler is not None else hooks.scaler
    compute_loss = step_fn if step_fn is not None else pair_step(loss_fn)  # type: ignore[arg-type]
    return Prepared(
        optimizers,
        accumulation,
        base_lrs,
        ratios,
        device,
        autocast_dtype,
        amp_scaler,
        compute_loss,
        hooks,
    )


# SIGTERM during the test: restore and clean up (the `finally` below), then end as SIGTERM would.
@terminate_cleanly()
def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    data: Iterable[Any],
    *,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    step_fn: StepFn | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    accumulation_steps: int = 1,
    amp: bool = False,
    amp_dtype: torch.dtype | None = None,
    scaler: Any = None,
    schedulers: Sequence[Any] = (),
    val_data: Iterable[Any] | None = None,
    val_batches: int = 1,
    val_every: int = 1,
    snapshot: str = "memory",
    defer_loss: bool | None = None,
    accelerator: Any = None,
    **sweep: Unpack[SweepOptions],
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2015/2017, section 3.3) on a PyTorch model.

    Trains ``model`` with ``optimizer`` for up to ``num_steps`` optimizer steps while the rate
    grows from ``start_lr`` to ``end_lr``, recording each step's loss, and stops early when the
    loss diverges or turns NaN/inf. Before the first step every piece of state the test changes
    is put aside on the host (see :class:`Snapshot`); it is put back bit for bit when the test
    ends, also when it raises, on Ctrl-C (a second one waits until the restore is done) and on
    SIGTERM (then the process ends as SIGTERM would); docs/restore.md has the details.

    Under ``torch.distributed`` (e.g. ``torchrun`` with a ``DistributedDataParallel`` model) call
    it on every rank with that rank's data: every rank runs the same sweep, the loss is averaged
    over the ranks before the stopping rule, all stop on the same step, every rank is restored,
    and only rank 0 shows a progress bar (save the result from rank 0 only). When one rank
    raises while reading its data or computing its loss, every rank stops and is restored; the
    others raise ``RankFailedError`` naming it.

    Args:
        model: the network; it is trained in ``train()`` mode during the test. Lazy modules are
            initialised first by one forward pass on the first batch in ``eval()`` mode, the
            initialisation the first training step would do; they stay initialised.
        optimizer: a ``torch.optim`` optimizer, or a list of them (two models trained together:
            one ``step_fn`` loss, every optimizer steps). One multiplier sweeps every parameter
            group of every optimizer so their ratios hold (discriminative fine-tuning); the
            result's ``lrs`` are the first group's rates and ``group_lrs`` every group's.
            Frozen parameters (``requires_grad=False``) are not touched.
        data: any iterable of batches (a DataLoader, a list); cycled when shorter than the test.
            A one-shot iterator is read once and ends the test when it runs out.
        loss_fn: ``loss_fn(model(inputs), targets)`` for ``(inputs, targets)`` batches.
        step_fn: ``step_fn(model, batch) -> loss`` for anything else (dict batches, models that
            compute their own loss: :func:`forward_loss`); lrfinder calls ``backward()`` and
            ``optimizer.step()``.
        **sweep: the sweep and its stopping rule (``start_lr``, ``end_lr``, ``num_steps``,
            ``mode``, ``diverge_threshold``, ``smooth_beta``): see :class:`lrfinder.SweepOptions`.
        device: where batches go; default: the device of the model's first parameter.
        progress: show a tqdm progress bar (on rank 0 only).
        accumulation_steps: micro-batches per optimizer step; each loss is divided by it before
            ``backward()``, the sweep advances once per optimizer step, and the step's recorded
            loss is the mean over its micro-batches.
        amp: run the forward pass under ``torch.autocast`` (float16 with a ``GradScaler`` on
            CUDA, bfloat16 on CPU).
        amp_dtype: the autocast dtype, ``torch.float16`` or ``torch.bfloat16``.
        scaler: your ``torch.amp.GradScaler`` (implies ``amp``); its state is restored. A step
            the scaler skips (inf/NaN gradients) is retried at the same rate on the next batch,
            so the sweep advances only on steps that ran; skipped steps are listed in
            ``result.settings["skipped_steps"]`` (the index of the step they delayed).
            Likewise a ``step_fn`` (or ``loss_fn``) that returns None skips its batch, as in
            Lightning: no backward, no optimizer step, the same rate on the next batch, listed
            in ``result.settings["skipped_batches"]``; 40 in a row raise an error.
        schedulers: LR schedulers attached to the optimizer. The test sets the rates itself and
            never steps them; list them here when ``step_fn`` steps them, to restore their state.
        val_data: batches for a validation loss; the first ``val_batches`` are kept and
            evaluated (the same ones every time, ``eval()`` mode, ``torch.no_grad()``) after
            every ``val_every``-th step. The result's ``val_losses`` hold them beside the
            training loss (NaN where none was measured), ``result.validation_curve()`` is a curve
            for suggestions, and ``result.timings["val_s"]`` is their cost. The stopping rule
            reads the training loss.
        val_batches: see ``val_data``.
        val_every: see ``val_data``.
        snapshot: ``"memory"`` (host memory) or ``"disk"`` (one temporary file with no name,
            which the kernel frees however the process ends; for models too large to copy in
            memory). Nothing is ever copied to accelerator memory. Under FSDP each rank keeps
            only its own shards.
        defer_loss: read each step's loss one step late, so the host queues the next step
            before it waits for the accelerator (on CUDA through a non-blocking copy to pinned
            memory). The stopping rule then decides one step later; the step trained past the
            stop is not recorded and the restore undoes it, so the curve is the same. Default
            (None): on for CUDA, off elsewhere; it is never used with ``val_data``, under
            ``torch.distributed`` or with ``accelerator``, where every step's loss is needed at
            once.
        accelerator: the Hugging Face ``accelerate.Accelerator`` that prepared ``model``,
            ``optimizer`` and ``data``: each step's forward runs under
            ``accelerator.autocast()``, its backward is ``accelerator.backward(loss)`` and its
            micro-batches are the Accelerator's ``gradient_accumulation_steps``. A prepared
            scheduler in ``schedulers`` is restored through the scheduler it wraps and never
            stepped; the prepared loader's epoch counter and the Accelerator's gradient state
            are put back.

    Returns:
        The :class:`lrfinder.RangeTestResult`; ``result.suggestion`` names a rate.

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        >>> r = find_lr(model, opt, data, loss_fn=torch.nn.functional.mse_loss, num_steps=10,
        ...             accumulation_steps=2, amp=True, val_data=data, val_every=5, progress=False)
        >>> r.val_losses.shape == r.losses.shape
        True
    """
    run = prepare(
        model,
        optimizer,
        loss_fn=loss_fn,
        step_fn=step_fn,
        device=device,
        accumulation_steps=accumulation_steps,
        amp=amp,
        amp_dtype=amp_dtype,
        scaler=scaler,
        accelerator=accelerator,
    )
    check_count("val_batches", val_batches)
    check_count("val_every", val_every)
    deferred = _deferred(defer_loss, run.device, val_data, run.accelerate is not None)
    optimizers, device, compute_loss = run.optimizers, run.device, run.compute_loss
    rt = RangeTest(
        **sweep_options(sweep),
        group_ratios=run.ratios,
    )

    generators = _loader_generators(data)
    batches = cycle(data)
    lazy = _is_lazy(model)
    if lazy:
        # As in training without the test, the modules initialise after a shuffling loader drew
        # its order from the torch RNG, so they get the same weights. Then the RNG goes back to
        # before the loader's draws, so the caller's next pass shuffles as it would have (the
        # initialisation's draws are not replayed: docs/restore.md). When the data drew nothing,
        # the initialisation's draws stay, exactly as after the first training step.
        rng = torch.get_rng_state()
        first_batch = next(batches, None)
        drew = not torch.equal(torch.get_rng_state(), rng)
        if first_batch is None:
            raise LRFinderError("`data` yielded no batch; lazy modules need one to initialise.")
        batches = itertools.chain([first_batch], batches)
        try:
            _materialize(model, compute_loss, first_batch, device)
        finally:
            if drew:
                torch.set_rng_state(rng)

    started = time.perf_counter()
    snap = Snapshot(model, optimizers, extras=run.extras(schedulers, scaler), place=snapshot)
    snapshot_s = time.perf_counter() - started
    try:
        try:
            with loader_state(data, accelerator):
                # Taken after the snapshot: a shuffling loader draws from the RNG being restored.
                held_out = [] if val_data is None else list(itertools.islice(val_data, val_batches))
                if val_data is not None and not held_out:
                    raise LRFinderError("`val_data` yielded no batch; pass at least one batch.")
                step = TorchStep(
                    rt,
                    model,
                    optimizers,
                    compute_loss,
                    batches,
                    device=device,
                    accumulation=run.accumulation,
                    autocast_dtype=run.autocast_dtype,
                    scaler=run.scaler,
                    val_batches=held_out,
                    val_every=val_every,
                    **run.step_hooks(),
                )
                model.train()
                if deferred:
                    drive_deferred(rt, step.launch, progress=progress and rank() == 0)
                else:
                    step.run(progress=progress and rank() == 0)
        finally:
            restore_started = time.perf_counter()
            with signals_held():  # a second Ctrl-C waits until everything is back
                snap.restore()
                for generator, state in generators:
                    generator.set_state(state)
            restore_s = time.perf_counter() - restore_started
    finally:
        snap.close()

    if step.gave_up and rt.step == 0:
        raise LRFinderError(
            f"The gradient scaler skipped every step: {len(step.skipped)} in a row at the first "
            f"rate ({rt.start_lr:.3g}) found inf/NaN gradients at every scale, so no step ran. "
            "Check the loss and the model's outputs for inf/NaN on the first batches."
        )
    settings: dict[str, Any] = {
        "framework": "torch",
        "base_lrs": run.base_lrs,
        "accumulation_steps": run.accumulation,
        "amp_dtype": None
        if run.autocast_dtype is None
        else str(run.autocast_dtype).removeprefix("torch."),
        "grad_scaler": run.scaler is not None,
        "skipped_steps": step.skipped,
        "skipped_batches": step.skipped_batches,
        "snapshot": snapshot,
        "world_size": world_size(),
        "lazy_initialised": lazy,
        "defer_loss": deferred,
    }
    timings = {"snapshot_s": snapshot_s, "restore_s": restore_s}
    if held_out:
        settings.update(val_batches=len(held_out), val_every=val_every)
        timings["val_s"] = step.val_s
    result = rt.result(settings=settings, timings=timings)
    if not held_out:
        return result
    val = step.val_losses + [math.nan] * (result.steps - len(step.val_losses))
    return dataclasses.replace(result, val_losses=np.array(val))
