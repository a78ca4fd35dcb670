"""The range test for PyTorch: a model, an optimizer and batches in; a result out; no trace left.

>>> import torch, lrfinder.torch
>>> model = torch.nn.Linear(4, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
>>> data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
>>> result = lrfinder.torch.find_lr(model, opt, data, loss_fn=torch.nn.functional.mse_loss,
...                                 num_steps=20, progress=False)
>>> result.steps <= 20
True
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

from ._errors import LRFinderError
from ._find import drive
from ._rangetest import RangeTest
from ._result import DEFAULT_SMOOTH_BETA, RangeTestResult
from ._torch_schedule import ScheduleLR as ScheduleLR

__all__ = ["ScheduleLR", "Snapshot", "find_lr"]

StepFn = Callable[[torch.nn.Module, Any], torch.Tensor]


class _HostCopy:
    """A tensor copied to host memory (never a second copy on the accelerator) and its home."""

    __slots__ = ("device", "value")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.value = tensor.detach().to("cpu", copy=True)
        self.device = tensor.device


def _save(value: Any) -> Any:
    return _HostCopy(value) if torch.is_tensor(value) else copy.deepcopy(value)


def _put_back(current: Any, saved: Any) -> Any:
    """The saved value, copied into ``current`` in place when it fits, so references stay valid."""
    if not isinstance(saved, _HostCopy):
        return copy.deepcopy(saved)
    if (
        torch.is_tensor(current)
        and current.shape == saved.value.shape
        and current.dtype == saved.value.dtype
        and current.device == saved.device
    ):
        current.copy_(saved.value)
        return current
    return saved.value.to(saved.device)


def _set_hparam(group: dict[str, Any], key: str, value: Any) -> None:
    """Set an optimizer group's hyper-parameter, in place when it is a tensor (capturable lr)."""
    current = group.get(key)
    if torch.is_tensor(current):
        with torch.no_grad():
            current.copy_(torch.as_tensor(value, dtype=current.dtype))
    else:
        group[key] = value


class Snapshot:
    """Everything a range test changes, copied to host memory, and put back bit for bit.

    Covers the parameters (values, ``requires_grad`` and gradients), every buffer, each module's
    train/eval mode, the optimizer's state and every group's hyper-parameters, and the Python,
    numpy and torch (CPU and CUDA) random number generators.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        params: dict[int, torch.Tensor] = {id(p): p for p in model.parameters()}
        for group in optimizer.param_groups:
            params.update({id(p): p for p in group["params"]})
        self.params = [(p, _HostCopy(p), p.requires_grad, _save(p.grad)) for p in params.values()]
        self.buffers = [(b, _HostCopy(b)) for b in model.buffers()]
        self.modes = [(m, m.training) for m in model.modules()]
        self.groups = [
            {k: _save(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups
        ]
        self.state = {p: {k: _save(v) for k, v in s.items()} for p, s in optimizer.state.items()}
        self.rng: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),  # noqa: NPY002 (the global state users seed)
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.rng["cuda"] = torch.cuda.get_rng_state_all()

    def restore(self) -> None:
        """Put everything back as it was when the snapshot was taken."""
        with torch.no_grad():
            for p, value, requires_grad, grad in self.params:
                p.copy_(value.value)
                p.requires_grad_(requires_grad)
                p.grad = _put_back(p.grad, grad)
            for b, value in self.buffers:
                b.copy_(value.value)
            for m, training in self.modes:
                m.training = training
            for group, saved in zip(self.optimizer.param_groups, self.groups, strict=True):
                for key in [k for k in group if k != "params" and k not in saved]:
                    del group[key]
                for key, value in saved.items():
                    group[key] = _put_back(group.get(key), value)
            state = self.optimizer.state
            for p in [p for p in state if p not in self.state]:
                del state[p]
            for p, saved_state in self.state.items():
                current = state.get(p, {})
                state[p] = {k: _put_back(current.get(k), v) for k, v in saved_state.items()}
        random.setstate(self.rng["python"])
        np.random.set_state(self.rng["numpy"])  # noqa: NPY002
        torch.set_rng_state(self.rng["torch"])
        if "cuda" in self.rng:
            torch.cuda.set_rng_state_all(self.rng["cuda"])


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    """Yield batches forever from a re-iterable (a list, a DataLoader); once from an iterator."""
    iterator = iter(data)
    one_shot = iterator is data
    while True:
        yielded = False
        for batch in iterator:
            yielded = True
            yield batch
        if one_shot or not yielded:
            return
        iterator = iter(data)


def _to_device(batch: Any, device: torch.device) -> Any:
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def _pair_step(loss_fn: Callable[..., torch.Tensor]) -> StepFn:
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


def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Iterable[Any],
    *,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    step_fn: StepFn | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    diverge_threshold: float | None = 4.0,
    smooth_beta: float = DEFAULT_SMOOTH_BETA,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2015/2017, section 3.3) on a PyTorch model.

    Trains ``model`` with ``optimizer`` for up to ``num_steps`` batches while the rate grows from
    ``start_lr`` to ``end_lr``, recording each batch's loss, and stops early when the loss diverges
    or turns NaN/inf. Before the first step every piece of state the test changes is copied to
    host memory (see :class:`Snapshot`); it is put back bit for bit when the test ends, also when
    it raises or is interrupted. Nothing is written to disk.

    Args:
        model: the network; it is trained in ``train()`` mode during the test.
        optimizer: any ``torch.optim`` optimizer over the model's parameters. With several
            parameter groups, one multiplier sweeps them all so their ratios hold; the result's
            ``lrs`` are the first group's rates and ``group_lrs`` every group's.
        data: any iterable of batches (a DataLoader, a list); cycled when shorter than the test.
            A one-shot iterator is read once and ends the test when it runs out.
        loss_fn: ``loss_fn(model(inputs), targets)`` for ``(inputs, targets)`` batches.
        step_fn: ``step_fn(model, batch) -> loss`` for anything else (dict batches, models that
            compute their own loss); lrfinder calls ``backward()`` and ``optimizer.step()``.
        start_lr, end_lr, num_steps, mode, diverge_threshold, smooth_beta: the sweep and its
            stopping rule, see :class:`lrfinder.RangeTest`.
        device: where batches go; default: the device of the model's first parameter.
        progress: show a tqdm progress bar.

    Returns:
        The :class:`lrfinder.RangeTestResult`; ``result.suggestion`` names a rate.
    """
    if (loss_fn is None) == (step_fn is None):
        raise LRFinderError(
            "Pass exactly one of `loss_fn` (for (inputs, targets) batches) and `step_fn` "
            f"(for any batch). Received: loss_fn={loss_fn!r}, step_fn={step_fn!r}"
        )
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise LRFinderError(
            f"`optimizer` must be a torch.optim.Optimizer. Received: {type(optimizer).__name__}"
        )
    base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
    if base_lrs[0] <= 0:
        raise LRFinderError(
            "The first parameter group's `lr` sets the ratio of the others and must be above 0. "
            f"Received: lr={base_lrs[0]!r}"
        )
    if device is None:
        first = next(iter(model.parameters()), None)
        if first is None:
            raise LRFinderError("`model` has no parameters to train.")
        device = first.device
    device = torch.device(device)
    compute_loss = step_fn if step_fn is not None else _pair_step(loss_fn)  # type: ignore[arg-type]
    rt = RangeTest(
        start_lr=start_lr,
        end_lr=end_lr,
        num_steps=num_steps,
        mode=mode,
        diverge_threshold=diverge_threshold,
        smooth_beta=smooth_beta,
        group_ratios=[lr / base_lrs[0] for lr in base_lrs],
    )

    started = time.perf_counter()
    snapshot = Snapshot(model, optimizer)
    snapshot_s = time.perf_counter() - started
    batches = _cycle(data)

    def train_step(lr: float) -> float | None:
        batch = next(batches, None)
        if batch is None:
            return None
        for group, group_lr in zip(optimizer.param_groups, rt.group_lrs, strict=True):
            _set_hparam(group, "lr", group_lr)
        optimizer.zero_grad(set_to_none=True)
        loss = compute_loss(model, _to_device(batch, device))
        if not torch.is_tensor(loss) or loss.numel() != 1:
            raise LRFinderError(
                "The loss must be a one-element tensor (so lrfinder can call backward()). "
                f"Received: {type(loss).__name__}"
                + (f" of shape {tuple(loss.shape)}" if torch.is_tensor(loss) else "")
            )
        value = float(loss.detach().item())
        if math.isfinite(value):
            loss.backward()
            optimizer.step()
        return value

    try:
        model.train()
        drive(rt, train_step, progress=progress)
    finally:
        restore_started = time.perf_counter()
        snapshot.restore()
        restore_s = time.perf_counter() - restore_started
    return rt.result(
        settings={"framework": "torch", "base_lrs": base_lrs},
        timings={"snapshot_s": snapshot_s, "restore_s": restore_s},
    )
