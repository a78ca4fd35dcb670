"""Everything a PyTorch range test changes, put aside on the host (memory or a private temp dir)
and put back bit for bit."""

from __future__ import annotations

import copy
import random
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core._errors import LRFinderError
from ._accelerate import unwrap_scheduler
from ._sharded import layout, local, rebuild

SNAPSHOT_PLACES = ("memory", "disk")
# Plain attributes of an optimizer that training flips, e.g. `_opt_called`, which an attached LR
# scheduler reads to warn about calling scheduler.step() before optimizer.step().
_PLAIN = (bool, int, float, str, type(None))


class _Stored:
    """One tensor put aside on the host; ``load()`` gives it back as a CPU tensor.

    Of a sharded tensor (DTensor) only this rank's shard is kept, with its ``layout``.
    """

    __slots__ = ("device", "dtype", "layout", "path", "shape", "value")

    def __init__(self, tensor: torch.Tensor, folder: Path | None, index: int) -> None:
        self.layout = layout(tensor)
        tensor = local(tensor)
        self.device = tensor.device
        self.dtype = tensor.dtype
        self.shape = tensor.shape
        self.path: Path | None = None
        self.value: torch.Tensor | None = None
        # Straight to host memory, never a second copy on the accelerator.
        if folder is None:
            self.value = tensor.detach().to("cpu", copy=True)
        else:
            # One file per tensor, so restoring holds at most one tensor in host memory at a time.
            self.path = folder / f"{index}.pt"
            torch.save(tensor.detach(), self.path)

    def load(self) -> torch.Tensor:
        if self.value is not None:
            return self.value
        assert self.path is not None
        return torch.load(self.path, map_location="cpu", weights_only=True)


class _Store:
    """Where tensors go: host memory, or a private temporary directory removed by ``close()``."""

    def __init__(self, place: str) -> None:
        if place not in SNAPSHOT_PLACES:
            raise LRFinderError(
                f"`snapshot` must be one of {', '.join(SNAPSHOT_PLACES)}. "
                f"Received: snapshot={place!r}. Use 'disk' for models too large to copy in memory."
            )
        self.place = place
        # Never the working directory: it may be read-only or shared by parallel jobs.
        self.folder = Path(tempfile.mkdtemp(prefix="lrfinder-")) if place == "disk" else None
        self._count = 0

    def save(self, value: Any) -> Any:
        """A tensor becomes a :class:`_Stored`; anything else is deep-copied."""
        if not torch.is_tensor(value):
            return copy.deepcopy(value)
        self._count += 1
        return _Stored(value, self.folder, self._count)

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class _Ref:
    """An object kept by reference (the optimizer a scheduler drives), not copied."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = copy.copy(value) if isinstance(value, list) else value


# Attributes of a scheduler that point at live objects: the optimizer, and the schedulers a
# ChainedScheduler/SequentialLR drives (those are snapshotted on their own).
_BY_REFERENCE = ("optimizer", "_schedulers")


def _put_back(current: Any, saved: Any) -> Any:
    """The saved value, copied into ``current`` in place when it fits, so references stay valid."""
    if isinstance(saved, _Ref):
        return saved.value
    if not isinstance(saved, _Stored):
        return copy.deepcopy(saved)
    value = saved.load()
    target = local(current) if torch.is_tensor(current) else None
    if (
        target is not None
        and layout(current) == saved.layout
        and target.shape == saved.shape
        and target.dtype == saved.dtype
        and target.device == saved.device
    ):
        target.copy_(value)
        return current
    moved = value.to(saved.device, copy=True)
    return moved if saved.layout is None else rebuild(moved, saved.layout)


def _restore_attrs(obj: Any, saved: dict[str, Any], kinds: tuple[type, ...] | None) -> None:
    """Put back an object's attributes; drop those added since (of ``kinds``, or all)."""
    attrs = vars(obj)
    added = [
        k for k, v in attrs.items() if k not in saved and (kinds is None or isinstance(v, kinds))
    ]
    for key in added:
        del attrs[key]
    for key, value in saved.items():
        attrs[key] = _put_back(attrs.get(key), value)


def _expand(extras: Iterable[Any]) -> list[Any]:
    """The extra objects and, for chained schedulers, the schedulers they drive (and for
    Accelerate's prepared schedulers, the one they wrap)."""
    out: list[Any] = []
    for obj in map(unwrap_scheduler, extras):
        out.append(obj)
        out.extend(_expand(getattr(obj, "_schedulers", ())))
    return out


class Snapshot:
    """Everything a range test changes, put aside on the host, and put back bit for bit.

    Covers the parameters (values, ``requires_grad`` and gradients), every buffer, each module's
    train/eval mode, every optimizer's state, its groups' hyper-parameters and the flags training
    sets on it, the state of any extra objects (a ``GradScaler``, LR schedulers), and the Python,
    numpy and torch (CPU and CUDA) random number generators. Device tensors are copied to host
    memory (``place="memory"``) or to a private temporary directory (``place="disk"``), never to a
    second copy on the accelerator. Call :meth:`restore`, then :meth:`close` to delete the
    directory (also when restoring fails).

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> before = model.weight.clone()
        >>> snap = Snapshot(model, opt)
        >>> with torch.no_grad():
        ...     _ = model.weight.add_(1.0)
        >>> snap.restore(); snap.close()
        >>> torch.equal(model.weight, before)
        True
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
        *,
        extras: Iterable[Any] = (),
        place: str = "memory",
    ) -> None:
        self.model = model
        self.optimizers = (
            [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else list(optimizer)
        )
        self.store = _Store(place)
        try:
            self._take(extras)
        except BaseException:
            self.store.close()
            raise

    def _take(self, extras: Iterable[Any]) -> None:
        save = self.store.save
        params: dict[int, torch.Tensor] = {id(p): p for p in self.model.parameters()}
        for opt in self.optimizers:
            for group in opt.param_groups:
                params.update({id(p): p for p in group["params"]})
        self.params = [(p, save(p), p.requires_grad, save(p.grad)) for p in params.values()]
        self.buffers = [(b, save(b)) for b in self.model.buffers()]
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.opts = [
            (
                opt,
                [{k: save(v) for k, v in g.items() if k != "params"} for g in opt.param_groups],
                {p: {k: save(v) for k, v in s.items()} for p, s in opt.state.items()},
                {k: v for k, v in vars(opt).items() if isinstance(v, _PLAIN)},
            )
            for opt in self.optimizers
        ]
        self.extras = [
            (obj, {k: _Ref(v) if k in _BY_REFERENCE else save(v) for k, v in vars(obj).items()})
            for obj in _expand(extras)
        ]
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
                local(p).copy_(value.load())
                p.requires_grad_(requires_grad)
                p.grad = _put_back(p.grad, grad)
            for b, value in self.buffers:
                local(b).copy_(value.load())
            for m, training in self.modes:
                m.training = training
            for opt, groups, saved_state, flags in self.opts:
                for group, saved in zip(opt.param_groups, groups, strict=True):
                    for key in [k for k in group if k != "params" and k not in saved]:
                        del group[key]
                    for key, value in saved.items():
                        group[key] = _put_back(group.get(key), value)
                state = opt.state
                for p in [p for p in state if p not in saved_state]:
                    del state[p]
                for p, entries in saved_state.items():
                    current = state.get(p, {})
                    state[p] = {k: _put_back(current.get(k), v) for k, v in entries.items()}
                _restore_attrs(opt, flags, _PLAIN)
            for obj, attrs in self.extras:
                _restore_attrs(obj, attrs, None)
        random.setstate(self.rng["python"])
        np.random.set_state(self.rng["numpy"])  # noqa: NPY002
        torch.set_rng_state(self.rng["torch"])
        if "cuda" in self.rng:
            torch.cuda.set_rng_state_all(self.rng["cuda"])

    def close(self) -> None:
        """Delete the temporary directory of a disk snapshot (nothing to do in memory)."""
        self.store.close()
