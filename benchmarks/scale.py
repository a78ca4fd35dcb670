"""Do two processes give the curve of one? DDP and FSDP2 against a single process.

The same MLP on scikit-learn's digits (64-128-128-10, AdamW), the same global batches of 64,
the same sweep (1e-6 to 10, 100 steps): once in one process, then on 2 gloo CPU processes
under DistributedDataParallel and under FSDP2 (``fully_shard`` per layer), each rank on half of
every global batch. The table reports, per engine, the largest absolute and relative difference
between its curve and the single process's over the steps both ran, and where each stopped.

    python -m benchmarks.scale     # writes benchmarks/scale_results.md and BENCHMARKS.md
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import lrfinder.torch as lt

WORLD = 2
BATCH = 64
SWEEP: dict[str, Any] = {"start_lr": 1e-6, "end_lr": 10.0, "num_steps": 100, "progress": False}
OUT = Path(__file__).parent / "scale_results.md"
BENCHMARKS = Path(__file__).parent.parent / "BENCHMARKS.md"
MARKERS = ("<!-- scale:begin -->", "<!-- scale:end -->")


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data - data.data.mean(0)) / (data.data.std(0) + 1e-8)
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(data.target, dtype=torch.long)
    n = len(xs) // BATCH * BATCH
    return [(xs[i : i + BATCH], ys[i : i + BATCH]) for i in range(0, n, BATCH)]


def model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


def sweep(net: torch.nn.Module, data: list[Any]) -> Any:
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    return lt.find_lr(net, opt, data, loss_fn=F.cross_entropy, **SWEEP)


def worker(rank: int, engine: str, folder: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/init", rank=rank, world_size=WORLD
    )
    try:
        net = model()
        if engine == "DDP":
            net = torch.nn.parallel.DistributedDataParallel(net)
        else:
            from torch.distributed.fsdp import fully_shard

            for layer in net[::2]:
                fully_shard(layer)
            fully_shard(net)
        half = BATCH // WORLD
        mine = [
            (x[rank * half : (rank + 1) * half], y[rank * half : (rank + 1) * half])
            for x, y in batches()
        ]
        result = sweep(net, mine)
        torch.save({"losses": result.losses, "stop": result.stop_reason}, f"{folder}/{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run(engine: str) -> dict[str, Any]:
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(worker, args=(engine, folder), nprocs=WORLD, start_method="spawn")
        ranks = [torch.load(f"{folder}/{r}.pt", weights_only=False) for r in range(WORLD)]
    assert np.array_equal(ranks[0]["losses"], ranks[1]["losses"]), "ranks disagree"
    return ranks[0]


def main() -> None:
    torch.set_num_threads(1)
    single = sweep(model(), batches())
    rows = []
    for engine in ("DDP", "FSDP2"):
        got = run(engine)
        n = min(len(got["losses"]), len(single.losses))
        diff = np.abs(got["losses"][:n] - single.losses[:n])
        rel = diff / np.abs(single.losses[:n])
        rows.append(
            f"| {engine} | {WORLD} | {n} | {diff.max():.2e} | {diff[:-5].max():.2e} | "
            f"{rel.max():.2e} | "
            f"{len(got['losses'])} ({got['stop']}) | {single.steps} ({single.stop_reason}) |"
        )
    table = "\n".join(
        [
            "| engine | processes | steps compared | max abs loss difference | the same, before "
            "the last 5 steps | max relative difference | its steps (stop) | one process's "
            "steps (stop) |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    text = (
        f"{SWEEP['num_steps']} steps of an MLP (64-128-128-10, AdamW) on digits, global batches of "
        f"{BATCH}; {WORLD} gloo CPU processes against one, one run:\n\n{table}\n"
    )
    OUT.write_text(text)
    doc = BENCHMARKS.read_text()
    begin, end = MARKERS
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        BENCHMARKS.write_text(f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}")
    print(table)


if __name__ == "__main__":
    main()
