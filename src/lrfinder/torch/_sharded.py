"""Sharded tensors (DTensor: FSDP2's ``fully_shard`` parameters, their gradients and optimizer
state): each rank puts aside and puts back only the shard it holds, with no collective."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

_DTensor: Any
try:
    from torch.distributed.tensor import DTensor as _DTensor
except ImportError:  # a torch built without torch.distributed
    _DTensor = None


class Layout(NamedTuple):
    """How a DTensor spreads over the ranks: enough to rebuild one from its local shard."""

    mesh: Any
    placements: tuple[Any, ...]
    shape: torch.Size
    stride: tuple[int, ...]


def is_sharded(tensor: Any) -> bool:
    return _DTensor is not None and isinstance(tensor, _DTensor)


def local(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor this rank holds: a DTensor's local shard (a view of its storage, so writing into
    it writes the DTensor), else the tensor itself."""
    if not is_sharded(tensor):
        return tensor
    sharded: Any = tensor
    with torch.no_grad():  # a plain view, no autograd node
        shard: torch.Tensor = sharded.to_local()
    return shard


def layout(tensor: torch.Tensor) -> Layout | None:
    if not is_sharded(tensor):
        return None
    sharded: Any = tensor
    return Layout(sharded.device_mesh, tuple(sharded.placements), tensor.shape, tensor.stride())


def rebuild(shard: torch.Tensor, where: Layout) -> torch.Tensor:
    """A DTensor over ``where`` from this rank's ``shard`` (no communication)."""
    built: torch.Tensor = _DTensor.from_local(
        shard,
        where.mesh,
        where.placements,
        run_check=False,
        shape=where.shape,
        stride=where.stride,
    )
    return built
