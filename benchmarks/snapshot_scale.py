"""Snapshot and restore time of lrfinder.torch against model size, in memory and on disk.

MLPs of about 1 M, 10 M and 100 M parameters (square 1024-wide layers) trained with SGD and
momentum, one step done first so that gradients and momentum exist; each place is timed taking
the snapshot (``Snapshot(...)``) and putting it back (``restore()``), median of a few rounds
run in the same process, with the bytes it holds (parameters, gradients, momentum, buffers).

    .venv/bin/python -m benchmarks.snapshot_scale [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from lrfinder.torch import Snapshot

WIDTH = 1024
SIZES = {"1M": 1, "10M": 10, "100M": 96}  # layers of 1024 x 1024 + 1024 parameters


def model_of(layers: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(WIDTH, WIDTH) for _ in range(layers)))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(4, WIDTH)
    F.mse_loss(model(x), x).backward()
    opt.step()
    return model, opt


def measure(rounds: int) -> list[tuple[str, int, str, float, float, int]]:
    rows = []
    for label, layers in SIZES.items():
        model, opt = model_of(layers)
        params = sum(p.numel() for p in model.parameters())
        for place in ("memory", "disk"):
            takes, restores, held = [], [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                snap = Snapshot(model, opt, place=place)
                takes.append(time.perf_counter() - started)
                held = sum(b.numel() * b.element_size() for b in snap.store.buffers)
                if snap.store.file is not None:
                    held += snap.store.file.tell()
                started = time.perf_counter()
                snap.restore()
                restores.append(time.perf_counter() - started)
                snap.close()
            rows.append(
                (label, params, place, statistics.median(takes), statistics.median(restores), held)
            )
        del model, opt
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = measure(args.rounds)
    print(
        "MLPs of 1024 x 1024 layers, SGD with momentum, gradients present; median of "
        f"{args.rounds} rounds.\n"
    )
    print("| model | parameters | snapshot | held (MiB) | snapshot s | restore s |")
    print("|---|---:|---|---:|---:|---:|")
    for label, params, place, take, restore, held in rows:
        print(
            f"| {label} | {params / 1e6:.1f} M | {place} | {held / 2**20:.0f} | {take:.3f} | "
            f"{restore:.3f} |"
        )


if __name__ == "__main__":
    main()
