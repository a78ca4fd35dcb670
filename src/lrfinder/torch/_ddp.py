"""The range test across processes (torch.distributed): one curve, one stop decision, all ranks."""

from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def agree(loss: float | None, device: torch.device) -> float | None:
    """The loss averaged over the ranks, or None on every rank when any rank ran out of data.

    Every rank must take the same branch afterwards (backward or not, stop or not), or the next
    collective deadlocks; one all-reduce of (loss sum, ranks without data) decides for all. Gloo
    has no AVG reduction, so the sum is divided here. A NaN on one rank makes the mean NaN on all.
    """
    if not is_distributed():
        return loss
    # NCCL reduces only device tensors; gloo reduces CPU tensors (and copes with CUDA ones).
    where = device if dist.get_backend() == "nccl" else torch.device("cpu")
    both = torch.tensor(
        [0.0 if loss is None else loss, 1.0 if loss is None else 0.0],
        dtype=torch.float64,
        device=where,
    )
    dist.all_reduce(both, op=dist.ReduceOp.SUM)
    total, missing = both.tolist()
    return None if missing > 0 else total / dist.get_world_size()


def no_sync(model: torch.nn.Module, last: bool) -> contextlib.AbstractContextManager[None]:
    """DDP's ``no_sync()`` on all but the last micro-batch of an accumulation window."""
    if last:
        return contextlib.nullcontext()
    sync_off = getattr(model, "no_sync", None)
    return contextlib.nullcontext() if sync_off is None else sync_off()
