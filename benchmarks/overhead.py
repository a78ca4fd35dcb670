"""What a range test costs on top of the training steps it runs.

The same model, optimizer and batches, 100 steps with the rate growing exponentially, run as
(a) a plain training loop that sets the rate and reads the loss every step, (b) lrfinder,
(c) torch-lr-finder, (d) Lightning's tuner. The tools run interleaved, round after round, so
slow phases of a shared machine hit them alike; each one's median wall time is reported as a
ratio to the plain loop's, with lrfinder's snapshot and restore times.

A second table times a tiny MLP (64-32-10, batch 16), where the training step is short enough
for lrfinder's own per-step work to show: the plain loop against lrfinder with its progress bar
(the default), without it, and with the loss read one step late (``defer_loss=True``), at 100,
1,000 and 10,000 steps, as a ratio and as microseconds a step over the plain loop. It counts the
process's CPU time, which other jobs on a shared machine do not inflate.

    python -m benchmarks.overhead     # writes benchmarks/overhead_results.md and BENCHMARKS.md
    python -m benchmarks.overhead --part tiny --rounds 9
    python -m benchmarks.overhead --part plumbing      # lrfinder's own microseconds a step
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

import lrfinder.torch

STEPS = 100
START_LR, END_LR = 1e-6, 1e-3  # low enough that no tool stops early: all run every step
OUT = Path(__file__).parent / "overhead_results.md"


def make_problem(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=START_LR)
    g = torch.Generator().manual_seed(seed)
    data = [(torch.randn(128, 256, generator=g), torch.randint(0, 10, (128,), generator=g))]
    return model, opt, data * STEPS


def plain(model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]) -> dict[str, float]:
    ratio = (END_LR / START_LR) ** (1 / (STEPS - 1))
    for i, (x, y) in enumerate(data):
        for group in opt.param_groups:
            group["lr"] = START_LR * ratio**i
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.item()  # every finder reads the loss each step; so does a loop that logs it
        loss.backward()
        opt.step()
    return {}


def with_lrfinder(
    model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]
) -> dict[str, float]:
    result = lrfinder.torch.find_lr(
        model,
        opt,
        data,
        loss_fn=F.cross_entropy,
        start_lr=START_LR,
        end_lr=END_LR,
        num_steps=STEPS,
        diverge_threshold=None,
        progress=False,
    )
    assert result.steps == STEPS
    return {"snapshot_s": result.timings["snapshot_s"], "restore_s": result.timings["restore_s"]}


def with_torch_lr_finder(
    model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]
) -> dict[str, float]:
    from torch_lr_finder import LRFinder

    finder = LRFinder(model, opt, F.cross_entropy, device="cpu")
    loader = torch.utils.data.DataLoader(data, batch_size=None)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, end_lr=END_LR, num_iter=STEPS, diverge_th=1e9)
        finder.reset()
    return {}


def with_lightning(
    model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]
) -> dict[str, float]:
    from benchmarks.quality.train import lightning_lr_find

    lightning_lr_find(
        model,
        lambda params, lr: torch.optim.AdamW(params, lr=lr),
        F.cross_entropy,
        data,
        min_lr=START_LR,
        max_lr=END_LR,
        num_training=STEPS,
        early_stop_threshold=None,
    )
    return {}


TOOLS: dict[str, Callable[..., dict[str, float]]] = {
    "plain loop": plain,
    "lrfinder": with_lrfinder,
    "torch-lr-finder": with_torch_lr_finder,
    "Lightning tuner": with_lightning,
}


def available(name: str) -> bool:
    module = {"torch-lr-finder": "torch_lr_finder", "Lightning tuner": "lightning"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def measure(rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    tools = {n: f for n, f in TOOLS.items() if available(n)}
    times: dict[str, list[float]] = {n: [] for n in tools}
    extra: dict[str, list[float]] = {"snapshot_s": [], "restore_s": []}
    for fn in tools.values():  # one warm-up each: imports, allocator, first-call costs
        fn(*make_problem())
    for r in range(rounds):
        names = list(tools)
        names = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
        for name in names:
            model, opt, data = make_problem(r)
            started = time.perf_counter()
            info = tools[name](model, opt, data)
            times[name].append(time.perf_counter() - started)
            for key, value in info.items():
                extra[key].append(value)
    return times, extra


def report(times: dict[str, list[float]], extra: dict[str, list[float]], rounds: int) -> str:
    base = statistics.median(times["plain loop"])
    lines = [
        f"{STEPS} steps of an MLP (256-512-512-10, AdamW, batch 128) on one CPU thread; "
        f"median of {rounds} interleaved rounds.",
        "",
        "| tool | median wall time (s) | ratio of medians | median of per-round ratios |",
        "|---|---|---|---|",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        paired = statistics.median(v / p for v, p in zip(values, times["plain loop"], strict=True))
        lines.append(f"| {name} | {median:.3f} | {median / base:.3f} | {paired:.3f} |")
    missing = [n for n in TOOLS if n not in times]
    if missing:
        lines += ["", f"Not installed, not measured: {', '.join(missing)}."]
    if extra["snapshot_s"]:
        lines += [
            "",
            f"lrfinder snapshot: {statistics.median(extra['snapshot_s']) * 1e3:.2f} ms, "
            f"restore: {statistics.median(extra['restore_s']) * 1e3:.2f} ms (medians).",
        ]
    return "\n".join(lines) + "\n"


def make_tiny(steps: int, seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=START_LR)
    g = torch.Generator().manual_seed(seed)
    data = [(torch.randn(16, 64, generator=g), torch.randint(0, 10, (16,), generator=g))]
    return model, opt, data * steps


def plain_loop(loss_fn: Callable[..., torch.Tensor]) -> Callable[..., None]:
    """A loop that sets the sweep's rate and reads the loss each step, as a finder does."""

    def run(model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]) -> None:
        ratio = (END_LR / START_LR) ** (1 / (len(data) - 1))
        for i, (x, y) in enumerate(data):
            for group in opt.param_groups:
                group["lr"] = START_LR * ratio**i
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.item()
            loss.backward()
            opt.step()

    return run


def finder(loss_fn: Callable[..., torch.Tensor], **options: Any) -> Callable[..., None]:
    """``lrfinder.torch.find_lr`` over every batch, never stopping early."""

    def run(model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]) -> None:
        result = lrfinder.torch.find_lr(
            model,
            opt,
            data,
            loss_fn=loss_fn,
            start_lr=START_LR,
            end_lr=END_LR,
            num_steps=len(data),
            diverge_threshold=None,
            **options,
        )
        assert result.steps == len(data)

    return run


TINY: dict[str, Callable[..., None]] = {
    "plain loop": plain_loop(F.cross_entropy),
    "lrfinder, progress bar (default)": finder(F.cross_entropy, progress=True),
    "lrfinder, no bar": finder(F.cross_entropy, progress=False),
    "lrfinder, bar, defer_loss=True": finder(F.cross_entropy, progress=True, defer_loss=True),
}


Problem = Callable[..., tuple[nn.Module, torch.optim.Optimizer, list[Any]]]


def measure_interleaved(
    variants: dict[str, Callable[..., None]], make: Problem, steps: int, rounds: int
) -> dict[str, list[float]]:
    """Each variant's process CPU time over ``steps`` steps, round after round in a rotating
    order, each on a fresh problem (seeded by the round), after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    # The bar writes to stderr; a buffer takes it, the same for every variant.
    with contextlib.redirect_stderr(io.StringIO()):
        for fn in variants.values():
            fn(*make(min(steps, 200)))
        for r in range(rounds):
            names = list(variants)[r % len(variants) :] + list(variants)[: r % len(variants)]
            for name in names:
                args = make(steps, seed=r)
                started = time.process_time()
                variants[name](*args)
                times[name].append(time.process_time() - started)
    return times


def report_tiny(by_steps: dict[int, dict[str, list[float]]], rounds: int) -> str:
    lines = [
        "A tiny MLP (64-32-10, AdamW, batch 16) on one CPU thread; the process's CPU time "
        "(a shared machine's other jobs add wall time at random, not CPU time), median of "
        f"{rounds} interleaved rounds at each length ({max(3, rounds // 3)} at 10,000 steps).",
        "",
        "| steps | variant | us a step | extra us a step | ratio of medians | median of per-round"
        " ratios |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for steps, times in by_steps.items():
        base = statistics.median(times["plain loop"])
        for name, values in times.items():
            median = statistics.median(values)
            paired = statistics.median(
                v / p for v, p in zip(values, times["plain loop"], strict=True)
            )
            lines.append(
                f"| {steps:,} | {name} | {median / steps * 1e6:.1f} | "
                f"{(median - base) / steps * 1e6:+.1f} | {median / base:.3f} | {paired:.3f} |"
            )
    return "\n".join(lines) + "\n"


# The plumbing: a step so small (Linear(2, 1), SGD, batch 4) that lrfinder's own work per step
# is a visible share of it; the fastest of many rounds, which a shared machine can only slow.
PLUMBING_STEPS = 5_000


def make_plumbing(steps: int, seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(seed)
    model = nn.Linear(2, 1)
    g = torch.Generator().manual_seed(seed)
    data = [(torch.randn(4, 2, generator=g), torch.randn(4, 1, generator=g))]
    return model, torch.optim.SGD(model.parameters(), lr=START_LR), data * steps


PLUMBING: dict[str, Callable[..., None]] = {
    "plain loop": plain_loop(F.mse_loss),
    "lrfinder, progress bar (default)": finder(F.mse_loss, progress=True),
    "lrfinder, no bar": finder(F.mse_loss, progress=False),
}


def report_plumbing(times: dict[str, list[float]], rounds: int) -> str:
    lines = [
        f"The plumbing: {PLUMBING_STEPS:,} steps of Linear(2, 1) with SGD (batch 4), where "
        "lrfinder's own work is a visible share of a step; the process's CPU time, fastest and "
        f"median of {rounds} interleaved rounds (the fastest: the least disturbed by other jobs).",
        "",
        "| variant | us a step (fastest) | extra us a step (fastest) | us a step (median) | "
        "extra us a step (median) |",
        "|---|---:|---:|---:|---:|",
    ]
    fastest = min(times["plain loop"]) / PLUMBING_STEPS * 1e6
    middle = statistics.median(times["plain loop"]) / PLUMBING_STEPS * 1e6
    for name, values in times.items():
        low = min(values) / PLUMBING_STEPS * 1e6
        mid = statistics.median(values) / PLUMBING_STEPS * 1e6
        lines.append(
            f"| {name} | {low:.1f} | {low - fastest:+.1f} | {mid:.1f} | {mid - middle:+.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--part", choices=["all", "medium", "tiny", "plumbing"], default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    parts = []
    if args.part in ("all", "medium"):
        times, extra = measure(args.rounds)
        parts.append(report(times, extra, args.rounds))
    if args.part in ("all", "tiny"):
        by_steps = {
            steps: measure_interleaved(
                TINY, make_tiny, steps, args.rounds if steps < 10_000 else max(3, args.rounds // 3)
            )
            for steps in (100, 1_000, 10_000)
        }
        parts.append(report_tiny(by_steps, args.rounds))
    if args.part in ("all", "plumbing"):
        rounds = 2 * args.rounds + 1
        times = measure_interleaved(PLUMBING, make_plumbing, PLUMBING_STEPS, rounds)
        parts.append(report_plumbing(times, rounds))
    text = "\n".join(parts)
    if args.part != "all":
        print(text)
        return
    OUT.write_text(text)
    from benchmarks.quality.report import fill_section

    fill_section("overhead", text)
    print(text)


if __name__ == "__main__":
    main()
