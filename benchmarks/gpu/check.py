"""The checks of lrfinder.torch that need a CUDA device, in one run (see check.sh).

1. fp16 with a GradScaler and bf16: every piece of state back bit for bit after find_lr.
2. Skipped-step bookkeeping: a scaler whose first scales overflow skips steps; the sweep waits
   (its first recorded rate is still ``start_lr``) and the skips are listed.
3. Overhead against a plain loop that reads the loss each step, with and without deferred
   readback (interleaved rounds, medians).
4. Peak device memory of find_lr against the plain loop, memory and disk snapshots: the
   snapshot goes to the host, so it must add nothing on the device.
5. torch.compile on CUDA (inductor): the sweep compiles once, and the state comes back.

Prints a Markdown table and writes it to ``--out``; exits 1 when a check fails, 0 with a
"skipped" line when no CUDA device is visible.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

OUT = Path(__file__).parent / "results.md"
STEPS = 200


def capture(model: nn.Module, opt: torch.optim.Optimizer, *extras: Any) -> Any:
    def clone(v: Any) -> Any:
        if torch.is_tensor(v):
            return v.detach().clone()
        if isinstance(v, dict):
            return {k: clone(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(clone(x) for x in v)
        return copy.deepcopy(v)

    return clone(
        {
            "params": [(p, p.requires_grad, p.grad) for p in model.parameters()],
            "buffers": list(model.buffers()),
            "opt": opt.state_dict(),
            "extras": [e.state_dict() for e in extras],
            "rng": [torch.get_rng_state(), torch.cuda.get_rng_state()],
        }
    )


def same(a: Any, b: Any) -> bool:
    if torch.is_tensor(a) or torch.is_tensor(b):
        return (
            torch.is_tensor(a)
            and torch.is_tensor(b)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.device == b.device
            and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def problem(width: int = 256, seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, width),
        nn.BatchNorm1d(width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 10),
    ).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator(device="cuda").manual_seed(seed)
    data = [
        (
            torch.randn(64, 64, device="cuda", generator=g),
            torch.randint(0, 10, (64,), device="cuda"),
        )
        for _ in range(8)
    ]
    F.cross_entropy(model(data[0][0]), data[0][1]).backward()
    opt.step()  # gradients and Adam state exist, as mid-training
    return model, opt, data


def check_amp(dtype: torch.dtype, defer: bool) -> tuple[bool, str]:
    import lrfinder.torch

    model, opt, data = problem()
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    extras = [scaler] if scaler is not None else []
    before = capture(model, opt, *extras)
    result = lrfinder.torch.find_lr(
        model,
        opt,
        data,
        loss_fn=F.cross_entropy,
        amp=True,
        amp_dtype=dtype,
        scaler=scaler,
        start_lr=1e-5,
        end_lr=10.0,
        num_steps=60,
        defer_loss=defer,
        progress=False,
    )
    ok = same(capture(model, opt, *extras), before)
    return ok, f"{result.steps} steps, stop: {result.stop_reason}"


def check_skips() -> tuple[bool, str]:
    import lrfinder.torch

    model, opt, data = problem()
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**24)  # overflows fp16 at first
    before = capture(model, opt, scaler)
    result = lrfinder.torch.find_lr(
        model,
        opt,
        data,
        loss_fn=F.cross_entropy,
        scaler=scaler,
        amp_dtype=torch.float16,
        start_lr=1e-5,
        end_lr=1e-2,
        num_steps=20,
        diverge_threshold=None,
        progress=False,
    )
    skipped = result.settings["skipped_steps"]
    ok = (
        len(skipped) > 0
        and skipped[0] == 0
        and float(result.lrs[0]) == 1e-5
        and result.steps == 20
        and same(capture(model, opt, scaler), before)
    )
    return ok, f"{len(skipped)} skipped, first delayed step {skipped[:1]}, {result.steps} steps"


def plain_loop(model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]) -> None:
    ratio = (1e-3 / 1e-6) ** (1 / (STEPS - 1))
    for i in range(STEPS):
        x, y = data[i % len(data)]
        for group in opt.param_groups:
            group["lr"] = 1e-6 * ratio**i
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.item()
        loss.backward()
        opt.step()


def finder(defer: bool, snapshot: str = "memory") -> Any:
    import lrfinder.torch

    def run(model: nn.Module, opt: torch.optim.Optimizer, data: list[Any]) -> None:
        result = lrfinder.torch.find_lr(
            model,
            opt,
            data,
            loss_fn=F.cross_entropy,
            start_lr=1e-6,
            end_lr=1e-3,
            num_steps=STEPS,
            diverge_threshold=None,
            defer_loss=defer,
            snapshot=snapshot,
            progress=False,
        )
        assert result.steps == STEPS

    return run


def overhead(rounds: int) -> dict[str, float]:
    tools = {"plain loop": plain_loop, "deferred": finder(True), "immediate": finder(False)}
    times: dict[str, list[float]] = {name: [] for name in tools}
    for fn in tools.values():
        fn(*problem())
    for r in range(rounds):
        names = list(tools)[r % 3 :] + list(tools)[: r % 3]
        for name in names:
            args = problem(seed=r)
            torch.cuda.synchronize()
            started = time.perf_counter()
            tools[name](*args)
            torch.cuda.synchronize()
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["plain loop"])
    return {name: statistics.median(t) / base for name, t in times.items()} | {
        "plain_us": base / STEPS * 1e6
    }


def peak_memory() -> dict[str, int]:
    peaks = {}
    for name, fn in (
        ("plain loop", plain_loop),
        ("memory snapshot", finder(False)),
        ("disk snapshot", finder(False, "disk")),
    ):
        args = problem(width=4096)  # 17 M parameters: a device copy would show
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn(*args)
        torch.cuda.synchronize()
        peaks[name] = torch.cuda.max_memory_allocated()
        del args
        torch.cuda.empty_cache()
    return peaks


def check_compile() -> tuple[bool, str]:
    import torch._dynamo

    import lrfinder.torch

    torch._dynamo.reset()
    model, opt, data = problem()
    compiled = torch.compile(model)
    before = capture(model, opt)
    torch._dynamo.utils.counters.clear()
    result = lrfinder.torch.find_lr(
        compiled,
        opt,
        data,
        loss_fn=F.cross_entropy,
        start_lr=1e-5,
        end_lr=1e-2,
        num_steps=30,
        progress=False,
    )
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    ok = same(capture(model, opt), before) and graphs <= 2 and result.steps == 30
    return ok, f"{graphs} graph(s) compiled over {result.steps} rates"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("skipped: no CUDA device is visible (torch.cuda.is_available() is False)")
        return 0
    warnings.filterwarnings("ignore")
    rows: list[tuple[str, bool | None, str]] = []
    for dtype, name in ((torch.float16, "fp16 + GradScaler"), (torch.bfloat16, "bf16")):
        for defer in (False, True):
            ok, info = check_amp(dtype, defer)
            rows.append((f"{name} restore, defer_loss={defer}", ok, info))
    rows.append(("skipped-step bookkeeping", *check_skips()))
    ratios = overhead(args.rounds)
    rows.append(
        (
            "overhead vs plain loop",
            None,
            f"immediate {ratios['immediate']:.3f}x, deferred {ratios['deferred']:.3f}x "
            f"(plain loop {ratios['plain_us']:.0f} us a step, {STEPS} steps, median of "
            f"{args.rounds} rounds)",
        )
    )
    peaks = peak_memory()
    base = peaks["plain loop"]
    extra = {k: v - base for k, v in peaks.items() if k != "plain loop"}
    rows.append(
        (
            "peak device memory: snapshot adds none",
            all(v <= 2**20 for v in extra.values()),
            ", ".join(f"{k} {v / 2**20:+.1f} MiB" for k, v in extra.items())
            + f" over the plain loop's {base / 2**20:.0f} MiB",
        )
    )
    rows.append(("torch.compile (inductor) on CUDA", *check_compile()))
    lines = [
        f"GPU check on {torch.cuda.get_device_name()}, torch {torch.__version__}.",
        "",
        "| check | result | details |",
        "|---|---|---|",
    ]
    for name, ok, info in rows:
        mark = "measured" if ok is None else ("pass" if ok else "FAIL")
        lines.append(f"| {name} | {mark} | {info} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0 if all(ok is not False for _, ok, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
