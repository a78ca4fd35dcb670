"""Two gloo processes on CPU for the distributed tests, and the batches they share."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2


def spawn(worker: Callable[..., Any], tmp_path: Path, *args: Any, init: bool = True) -> list[Any]:
    """Run ``worker(rank, *args)`` on ``WORLD`` gloo ranks; what each rank returns comes back.

    With ``init=False`` the ranks get torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``...) instead of a process group, for engines that start their own (Accelerate).
    Spawned, not forked: by then other tests have started threads (Lightning, transformers,
    Keras), and a forked child can inherit one of their locks held and hang forever.
    """
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    port = _free_port() if not init else 0
    mp.start_processes(
        _run, args=(worker, str(tmp_path), args, init, port), nprocs=WORLD, start_method="spawn"
    )
    return [torch.load(tmp_path / f"{r}.out", weights_only=False) for r in range(WORLD)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(
    rank: int, worker: Callable[..., Any], folder: str, args: tuple[Any, ...], init: bool, port: int
) -> None:
    if init:
        init_method = f"file://{folder}/init"
        dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=WORLD)
    else:
        os.environ.update(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(WORLD),
            LOCAL_WORLD_SIZE=str(WORLD),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
    try:
        out = worker(rank, *args)
        torch.save(out, Path(folder) / f"{rank}.out")
        # Both ranks done before either tears gloo down: a rank that destroys the group while
        # the other still talks to it can abort.
        dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def shard(batches: list[tuple[Any, Any]], rank: int) -> list[tuple[Any, Any]]:
    """This rank's half of every global batch (what a DistributedSampler would hand it)."""
    size = batches[0][0].shape[0] // WORLD
    return [
        (x[rank * size : (rank + 1) * size], y[rank * size : (rank + 1) * size]) for x, y in batches
    ]


def regression(seed: int = 1, n: int = 7) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of 16 examples of a smooth 4 -> 1 regression."""
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(16, 4, generator=g) for _ in range(n)]
    return [(x, x.sum(1, keepdim=True) + 0.1 * x[:, :1] ** 2) for x in xs]


def mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
