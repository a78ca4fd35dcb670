"""The range test across processes (torch.distributed): one curve, one stop decision, all ranks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.distributed as dist

from .._core._errors import LRFinderError


class RankFailedError(LRFinderError):
    """Another rank raised during the range test; this rank stopped with it and was restored."""


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


class Skip:
    """A batch the step skipped (its step returned None): no backward, no optimizer step."""


SKIP = Skip()


def _reduce(
    loss: float | None, device: torch.device, *, failed: bool, skip: bool = False
) -> tuple[float, bool, bool, list[int]]:
    """One all-reduce of (loss sum, ranks without data, ranks that skip, a failure flag per
    rank)."""
    # NCCL reduces only device tensors; gloo reduces CPU tensors (and copes with CUDA ones).
    where = device if dist.get_backend() == "nccl" else torch.device("cpu")
    size = dist.get_world_size()
    values = torch.zeros(3 + size, dtype=torch.float64, device=where)
    values[0] = 0.0 if loss is None else loss
    values[1] = 1.0 if loss is None and not skip else 0.0
    values[2] = 1.0 if skip else 0.0
    values[3 + dist.get_rank()] = 1.0 if failed else 0.0
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    total, missing, skipped, *flags = values.tolist()
    return total / size, missing > 0, skipped > 0, [r for r, flag in enumerate(flags) if flag > 0]


def agree(loss: float | None, device: torch.device, *, skip: bool = False) -> float | Skip | None:
    """The loss averaged over the ranks, None on every rank when any rank ran out of data, or
    :data:`SKIP` on every rank when any rank skips the batch (``skip``).

    Every rank must take the same branch afterwards (backward or not, stop or not), or the next
    collective deadlocks; one all-reduce of (loss sum, ranks without data, ranks that skip,
    ranks that raised) decides for all. Gloo has no AVG reduction, so the sum is divided here. A
    NaN on one rank makes the mean NaN on all. When another rank raised (see
    :func:`tell_failure`), this rank raises :class:`RankFailedError` naming it, so every rank
    leaves the test and is restored.
    """
    if not is_distributed():
        return SKIP if skip else loss
    mean, missing, skipped, failed = _reduce(loss, device, failed=False, skip=skip)
    if failed:
        names = ", ".join(map(str, failed))
        raise RankFailedError(
            f"Rank {names} of {dist.get_world_size()} raised during the range test (its own "
            f"traceback says why), so rank {dist.get_rank()} stopped with it; every rank's "
            "model, optimizer and RNG states were restored. Fix the error on that rank and "
            "run the test again."
        )
    if missing:
        return None
    return SKIP if skipped else mean


@contextlib.contextmanager
def tell_failure(device: torch.device) -> Iterator[None]:
    """Around the work of one rank between two :func:`agree` calls: if it raises, tell the other
    ranks in the collective they are waiting in, then let the error go on.

    Without this, the other ranks wait in the all-reduce until the process group times out, or
    abort inside the backend when this rank goes on to another collective.
    """
    try:
        yield
    except BaseException:
        if is_distributed():
            # Best effort: the error that matters is this rank's own, raised below.
            with contextlib.suppress(Exception):
                _reduce(None, device, failed=True)
        raise


def no_sync(model: torch.nn.Module, last: bool) -> contextlib.AbstractContextManager[None]:
    """DDP's ``no_sync()`` on all but the last micro-batch of an accumulation window."""
    if last:
        return contextlib.nullcontext()
    sync_off = getattr(model, "no_sync", None)
    return contextlib.nullcontext() if sync_off is None else sync_off()
