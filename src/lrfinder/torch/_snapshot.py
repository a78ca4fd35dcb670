"""Everything a PyTorch range test changes, put aside on the host (memory or an unlinked temp
file) and put back bit for bit."""

from __future__ import annotations

import copy
import io
import os
import random
import tempfile
from collections.abc import Iterable, Sequence
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


def _packable(tensor: torch.Tensor) -> bool:
    """A plain dense tensor, whose bytes alone say what it holds (not a subclass, quantized,
    sparse or meta tensor: those are copied or serialised one by one)."""
    return (
        type(tensor) is torch.Tensor
        and tensor.layout == torch.strided
        and not tensor.is_quantized
        and tensor.device.type != "meta"
    )


# Integer views of the float types, to test a gradient for all-zero bits (-0.0 is not zero).
_SAME_SIZE_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}
_CHUNK = 2**20


def _all_zero_bits(tensor: torch.Tensor) -> bool:
    as_int = _SAME_SIZE_INT.get(tensor.element_size())
    if (
        as_int is None
        or not tensor.dtype.is_floating_point
        or not _packable(tensor)
        or not tensor.is_contiguous()
    ):
        return False
    # In chunks: `any()` makes a boolean copy of what it reads, and a real gradient is nonzero
    # in its first chunk, so the test stops there.
    flat = tensor.view(as_int).reshape(-1)
    return not any(bool(flat[i : i + _CHUNK].any()) for i in range(0, flat.numel(), _CHUNK))


class _Stored:
    """One tensor put aside on the host; ``load()`` gives it back as a CPU tensor.

    In memory it is a view into one of the store's buffers, one per dtype; on disk a range of
    bytes in the store's one unlinked file. ``zeros`` marks a gradient of all zero bits, kept as
    its shape alone. Of a sharded tensor (DTensor) only this rank's shard is kept, as a plain
    tensor, with its ``layout``.
    """

    __slots__ = (
        "device",
        "dtype",
        "layout",
        "nbytes",
        "offset",
        "serialised",
        "shape",
        "store",
        "value",
    )

    def __init__(self, tensor: torch.Tensor, store: _Store) -> None:
        self.layout = layout(tensor)
        tensor = local(tensor)
        self.device = tensor.device
        self.dtype = tensor.dtype
        self.shape = tensor.shape
        self.store: _Store | None = store
        self.value: torch.Tensor | None = None
        self.offset = -1
        self.nbytes = 0
        self.serialised = False

    def load(self) -> torch.Tensor:
        if self.value is not None:
            return self.value
        assert self.store is not None
        return self.store.read(self)

    def load_into(self, current: torch.Tensor) -> None:
        """Copy the saved value into ``current`` (same shape, dtype and device; of a DTensor,
        into its local shard); from the file straight into a contiguous CPU tensor's memory,
        with no tensor-sized copy between."""
        current = local(current)
        if (
            self.value is None
            and not self.serialised
            and not isinstance(self, _Zeros)
            and current.device.type == "cpu"
            and type(current.detach()) is torch.Tensor
            and current.is_contiguous()
        ):
            assert self.store is not None
            self.store.read(self, into=current.detach())
            return
        current.copy_(self.load())


class _Zeros(_Stored):
    """A tensor of all zero bits (a gradient after ``zero_grad(set_to_none=False)``)."""

    __slots__ = ()

    def load(self) -> torch.Tensor:
        return torch.zeros(self.shape, dtype=self.dtype)


class _Store:
    """Where tensors go: a few host buffers, one per dtype, or one unlinked temporary file.

    :meth:`save` only registers a tensor; :meth:`seal` copies every registered tensor at once,
    so that memory holds one buffer per dtype instead of one block per tensor (freed blocks of
    many mid-sized tensors stay in the process until the allocator trims them; one large
    buffer goes back to the system when freed). The file is unlinked as soon as it is created,
    so nothing is left in ``$TMPDIR`` even when the process is killed; ``close()`` closes it.

    In memory, gradients go to that file too: they are read once, at the restore, and the
    sweep's own gradients sit beside them meanwhile, so in the process's heap they would cost a
    third copy of the model next to the live one and the snapshot's. In the file they sit in the
    kernel's page cache, which it can write out under memory pressure. When no temporary file
    can be written, they stay in memory.
    """

    def __init__(self, place: str) -> None:
        if place not in SNAPSHOT_PLACES:
            raise LRFinderError(
                f"`snapshot` must be one of {', '.join(SNAPSHOT_PLACES)}. "
                f"Received: snapshot={place!r}. Use 'disk' for models too large to copy in memory."
            )
        self.place = place
        self.file: Any = None
        if place == "disk":
            self.file = _unnamed_file()
        self.buffers: list[torch.Tensor] = []
        self._pending: list[tuple[_Stored, torch.Tensor, bool]] = []

    def save(self, value: Any, *, grad: bool = False) -> Any:
        """A tensor becomes a :class:`_Stored` (filled by :meth:`seal`); anything else is
        deep-copied. A gradient of all zero bits is kept as its shape. Of a DTensor, only this
        rank's shard is kept."""
        if not torch.is_tensor(value):
            return copy.deepcopy(value)
        shard = local(value)
        if grad and _all_zero_bits(shard):
            return _Zeros(value, self)
        stored = _Stored(value, self)
        self._pending.append((stored, shard.detach(), grad or self.place == "disk"))
        return stored

    def seal(self) -> None:
        """Copy every tensor registered since the last call."""
        pending, self._pending = self._pending, []
        in_memory = [(stored, tensor) for stored, tensor, to_file in pending if not to_file]
        to_file = [(stored, tensor) for stored, tensor, to_file in pending if to_file]
        if to_file and self.place == "memory":
            try:
                if self.file is None:
                    self.file = _unnamed_file()
                start = self.file.tell()
                for stored, tensor in to_file:
                    self._write(stored, tensor)
            except OSError:  # no writable temporary directory, or it is full
                if self.file is not None:
                    self.file.truncate(start)
                    self.file.seek(start)
                in_memory += to_file
        else:
            for stored, tensor in to_file:
                self._write(stored, tensor)
        self._pack(in_memory)

    def _pack(self, items: list[tuple[_Stored, torch.Tensor]]) -> None:
        by_dtype: dict[torch.dtype, list[tuple[_Stored, torch.Tensor]]] = {}
        for stored, tensor in items:
            if _packable(tensor):
                by_dtype.setdefault(tensor.dtype, []).append((stored, tensor))
            else:
                # Straight to host memory, never a second copy on the accelerator.
                stored.value = tensor.to("cpu", copy=True)
        for dtype, group in by_dtype.items():
            buffer = torch.empty(sum(t.numel() for _, t in group), dtype=dtype)
            self.buffers.append(buffer)
            offset = 0
            for stored, tensor in group:
                n = tensor.numel()
                view = buffer[offset : offset + n].view(tensor.shape)
                view.copy_(tensor)
                stored.value = view
                offset += n

    def _write(self, stored: _Stored, tensor: torch.Tensor) -> None:
        stored.offset = self.file.tell()
        if _packable(tensor):
            data = _bytes_of(tensor.to("cpu").contiguous())
        else:
            serialised = io.BytesIO()
            torch.save(tensor, serialised)
            data, stored.serialised = serialised.getbuffer(), True
        while data:
            data = data[self.file.write(data) :]
        stored.nbytes = self.file.tell() - stored.offset

    def read(self, stored: _Stored, into: torch.Tensor | None = None) -> torch.Tensor:
        """The stored tensor, read from the file (into ``into`` when given: a contiguous CPU
        tensor of its shape and dtype)."""
        assert self.file is not None, "the snapshot was closed"
        fd = self.file.fileno()
        if stored.serialised:
            raw = os.pread(fd, stored.nbytes, stored.offset)
            loaded: torch.Tensor = torch.load(
                io.BytesIO(raw), map_location="cpu", weights_only=True
            )
            return loaded
        out = torch.empty(stored.shape, dtype=stored.dtype) if into is None else into
        view, done = _bytes_of(out), 0
        while done < stored.nbytes:
            got = os.preadv(fd, [view[done:]], stored.offset + done)
            if got <= 0:
                raise LRFinderError("The disk snapshot's temporary file ended early.")
            done += got
        return out

    def close(self) -> None:
        self.buffers = []
        self._pending = []
        if self.file is not None:
            self.file.close()
            self.file = None


def _unnamed_file() -> Any:
    # Never the working directory: it may be read-only or shared by parallel jobs.
    # TemporaryFile has no name on POSIX: the kernel frees it when the process ends.
    return tempfile.TemporaryFile(prefix="lrfinder-", buffering=0)


def _bytes_of(tensor: torch.Tensor) -> memoryview:
    """A contiguous CPU tensor's bytes, sharing its memory (any dtype)."""
    flat = tensor.reshape(-1)
    as_bytes = flat.view(torch.uint8) if flat.numel() else flat.new_empty(0, dtype=torch.uint8)
    return memoryview(as_bytes.numpy())  # type: ignore[arg-type]


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
    target = local(current) if torch.is_tensor(current) else None
    if (
        target is not None
        and layout(current) == saved.layout
        and target.shape == saved.shape
        and target.dtype == saved.dtype
        and target.device == saved.device
    ):
        saved.load_into(target)
        return current
    moved = saved.load().to(saved.device, copy=True)
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
    memory (``place="memory"``: one buffer per dtype) or to one temporary file that has no name
    (``place="disk"``: unlinked at once, so a killed process leaves nothing behind), never to a
    second copy on the accelerator. Of a sharded tensor (FSDP2's DTensor) each rank keeps only its
    own shard and writes it back through the local view. A gradient of all zero bits is kept as
    its shape; a missing one as ``None``. Call :meth:`restore`, then :meth:`close` to free the
    buffers or the file (also when restoring fails).

    Examples:
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
            self.store.seal()
        except BaseException:
            self.store.close()
            raise

    def _take(self, extras: Iterable[Any]) -> None:
        save = self.store.save
        params: dict[int, torch.Tensor] = {id(p): p for p in self.model.parameters()}
        for opt in self.optimizers:
            for group in opt.param_groups:
                params.update({id(p): p for p in group["params"]})
        self.params = [
            (p, save(p), p.requires_grad, save(p.grad, grad=True)) for p in params.values()
        ]
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
                value.load_into(p)
                p.requires_grad_(requires_grad)
                p.grad = _put_back(p.grad, grad)
            for b, value in self.buffers:
                value.load_into(b)
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
        """Free the host buffers, or close (and so delete) the disk snapshot's unlinked file."""
        self.store.close()
