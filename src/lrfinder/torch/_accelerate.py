"""Objects that went through Hugging Face Accelerate's ``accelerator.prepare``.

Accelerate is never imported here: its wrappers are recognised by the attribute that holds what
they wrap. A prepared optimizer (``AcceleratedOptimizer``) is stepped, snapshotted and given its
rates through the optimizer it wraps. A prepared scheduler (``AcceleratedScheduler``) steps the
scheduler it wraps once per process per optimizer step, so a sweep driven through it would run
world-size times too fast: lrfinder never steps it, and restores and rescales the scheduler inside.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from .._core._errors import LRFinderError


def _from_accelerate(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "accelerate"


def unwrap_optimizer(optimizer: Any) -> Any:
    """The optimizer inside Accelerate's ``AcceleratedOptimizer``, else ``optimizer``."""
    inner = getattr(optimizer, "optimizer", None)
    if _from_accelerate(optimizer) and isinstance(inner, torch.optim.Optimizer):
        return inner
    return optimizer


def unwrap_scheduler(scheduler: Any) -> Any:
    """The scheduler inside Accelerate's ``AcceleratedScheduler``, else ``scheduler``."""
    inner = getattr(scheduler, "scheduler", None)
    return inner if _from_accelerate(scheduler) and inner is not None else scheduler


class Hooks:
    """How an ``Accelerator`` runs a step: its device, forward under ``accelerator.autocast()``,
    ``accelerator.backward(loss)`` (which divides by its accumulation steps and scales fp16
    losses), its accumulation steps and its gradient scaler."""

    def __init__(self, accelerator: Any, accumulation_steps: int) -> None:
        needed = ("backward", "autocast", "device", "gradient_accumulation_steps")
        if not all(hasattr(accelerator, name) for name in needed):
            raise LRFinderError(
                "`accelerator` must be an accelerate.Accelerator (the one that prepared the model, "
                f"optimizer and data). Received: {type(accelerator).__name__}"
            )
        steps = int(accelerator.gradient_accumulation_steps)
        if accumulation_steps not in (1, steps):
            raise LRFinderError(
                "With `accelerator`, the micro-batches per optimizer step are the Accelerator's "
                "`gradient_accumulation_steps`, which accelerator.backward() divides each loss by. "
                f"Received: accumulation_steps={accumulation_steps}, "
                f"gradient_accumulation_steps={steps}. Set it on the Accelerator and leave "
                "`accumulation_steps` out."
            )
        self.accelerator = accelerator
        self.accumulation = steps
        self.device = torch.device(accelerator.device)
        self.scaler = getattr(accelerator, "scaler", None)
        self.backward: Callable[[torch.Tensor], None] = accelerator.backward
        self.autocast: Callable[[], contextlib.AbstractContextManager[Any]] = accelerator.autocast


def refuse_unprepared_step(optimizers: Iterable[Any], accelerator: Any) -> None:
    """A prepared optimizer needs the Accelerator that prepared it, for backward and autocast."""
    if accelerator is None and any(_from_accelerate(o) for o in optimizers):
        raise LRFinderError(
            "The optimizer went through accelerator.prepare(), so its steps belong to the "
            "Accelerator (backward, mixed precision, gradient accumulation). Pass it as "
            "find_lr(..., accelerator=accelerator)."
        )


@contextlib.contextmanager
def loader_state(data: Any, accelerator: Any) -> Iterator[None]:
    """Put back what reading a prepared DataLoader changes: its pass counter (the epoch its
    sampler shuffles by), its synchronised generator, and the Accelerator's gradient state (a
    pass the test leaves unfinished would stay the active one)."""
    if accelerator is None:
        yield
        return
    state = getattr(accelerator, "gradient_state", None)
    saved = {} if state is None else {k: _shallow(v) for k, v in vars(state).items()}
    iteration = getattr(data, "iteration", None)
    generator = getattr(data, "synchronized_generator", None)
    rng = generator.get_state() if isinstance(generator, torch.Generator) else None
    try:
        yield
    finally:
        if state is not None:
            vars(state).clear()
            vars(state).update(saved)
        if iteration is not None:
            data.iteration = iteration
        if rng is not None and isinstance(generator, torch.Generator):
            generator.set_state(rng)


def _shallow(value: Any) -> Any:
    return (
        type(value)(value)
        if isinstance(value, (list, dict)) and not _from_accelerate(value)
        else value
    )
