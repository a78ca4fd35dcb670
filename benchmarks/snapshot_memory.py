"""Extra peak host memory of lrfinder.torch.find_lr over a plain training loop, per snapshot place.

A 50.3 M-parameter MLP (three 4096 x 4096 layers) trained with Adam; each variant runs in a fresh
process and reports its peak resident memory (``ru_maxrss``):

- ``plain``: the same number of ordinary training steps (the baseline);
- ``memory``: ``find_lr(..., snapshot="memory")`` (the default);
- ``disk``: ``find_lr(..., snapshot="disk")``.

The extra peak of a variant is its peak minus the baseline's, reported as a ratio of the size of
the model's parameters plus Adam's state. Before each run one training step has left gradients and
Adam state in place, as mid-training; the snapshot must restore those gradients too.

A second table measures what the process keeps after a snapshot is closed: a model of 48
``Linear(1024, 1024)`` layers with Adam, its resident memory (``/proc/self/statm``) before the
snapshot and after snapshot, restore and close, in a fresh process per place. Memory held in
many mid-sized blocks stays with the process after it is freed, until the allocator trims it.

Run: ``.venv/bin/python benchmarks/snapshot_memory.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

WIDTH, LAYERS, BATCH, STEPS = 4096, 3, 8, 5


def run_variant(variant: str) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    import lrfinder.torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = [(torch.randn(BATCH, WIDTH), torch.randn(BATCH, WIDTH)) for _ in range(STEPS)]
    F.mse_loss(model(data[0][0]), data[0][1]).backward()
    opt.step()  # Adam state and gradients exist, as in the middle of training
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    state = sum(
        v.numel() * v.element_size()
        for s in opt.state.values()
        for v in s.values()
        if torch.is_tensor(v)
    )
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if variant == "plain":
        for x, y in data:
            opt.zero_grad(set_to_none=True)
            F.mse_loss(model(x), y).backward()
            opt.step()
    else:
        result = lrfinder.torch.find_lr(
            model,
            opt,
            data,
            loss_fn=F.mse_loss,
            start_lr=1e-7,
            end_lr=1e-4,
            num_steps=STEPS,
            diverge_threshold=None,
            snapshot=variant,
            progress=False,
        )
        timings = dict(result.timings)
    return {
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "params": sum(p.numel() for p in model.parameters()),
        "params_bytes": params,
        "optimizer_state_bytes": state,
        "wall_s": time.perf_counter() - started,
        "snapshot_s": timings.get("snapshot_s", 0.0),
        "restore_s": timings.get("restore_s", 0.0),
    }


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_given_back(place: str) -> dict[str, float]:
    import gc

    import torch
    import torch.nn.functional as F

    from lrfinder.torch import Snapshot

    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(1024, 1024) for _ in range(48)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(4, 1024)
    F.mse_loss(model(x), x).backward()
    opt.step()
    gc.collect()
    before = rss_bytes()
    snap = Snapshot(model, opt, place=place)
    during = rss_bytes()
    snap.restore()
    snap.close()
    del snap
    gc.collect()
    return {"before": before, "during": during, "after": rss_bytes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["plain", "memory", "disk"])
    parser.add_argument("--given-back", choices=["memory", "disk"])
    parser.add_argument("--json", help="also write the measurements to this JSON file")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant)))
        return
    if args.given_back:
        print(json.dumps(run_given_back(args.given_back)))
        return
    runs = {}
    for variant in ("plain", "memory", "disk"):
        out = subprocess.run(
            [sys.executable, __file__, "--variant", variant],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs[variant] = json.loads(out.strip().splitlines()[-1])
    base = runs["plain"]
    size = base["params_bytes"] + base["optimizer_state_bytes"]
    mib = 2**20
    print(
        f"Model: {base['params'] / 1e6:.1f} M parameters, Adam; parameters + optimizer state = "
        f"{size / mib:.0f} MiB; {STEPS} steps of batch {BATCH}.\n"
    )
    print(
        "| snapshot | peak RSS (MiB) | extra over plain loop (MiB) | extra / (model + Adam state)"
        " | snapshot s | restore s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for variant, run in runs.items():
        extra = run["peak_rss_bytes"] - base["peak_rss_bytes"]
        label = "plain training loop" if variant == "plain" else f'`snapshot="{variant}"`'
        print(
            f"| {label} | {run['peak_rss_bytes'] / mib:.0f} | {extra / mib:.0f} | "
            f"{extra / size:.2f} | {run['snapshot_s']:.2f} | {run['restore_s']:.2f} |"
        )
    kept = {}
    for place in ("memory", "disk"):
        out = subprocess.run(
            [sys.executable, __file__, "--given-back", place],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        kept[place] = json.loads(out.strip().splitlines()[-1])
    print(
        "\n48 x Linear(1024, 1024) with Adam: resident memory before the snapshot, while it is "
        "held, and after restore and close.\n"
    )
    print("| snapshot | RSS before (MiB) | while held | after close | kept after close (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for place, run in kept.items():
        print(
            f'| `snapshot="{place}"` | {run["before"] / mib:.0f} | {run["during"] / mib:.0f} | '
            f"{run['after'] / mib:.0f} | {(run['after'] - run['before']) / mib:+.0f} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"runs": runs, "state_bytes": size, "given_back": kept}, f, indent=1)


if __name__ == "__main__":
    main()
