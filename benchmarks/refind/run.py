"""Re-finding during training against one range test and a grid search, on small CPU setups.

For each setup and seed, train the same network from the same initial weights with:
  (a) one range test, then its suggestion as a constant rate (rules fall, minimum, valley);
  (b) one range test, then a one-cycle schedule peaking at its suggestion;
  (c) one range test (read with lrfinder's default rule unless the row says otherwise), then a
      re-run every epoch (lrfinder.RefindPolicy) with a constant rate in between, under a few
      policies (the rule named first reads the re-runs);
  (d) a grid of constant rates, the best chosen on the validation loss (optimistic: chosen on the
      data it is scored on, at the cost of a full training per rate).
and report the final validation loss and the steps spent on range tests.

    .venv/bin/python benchmarks/refind/run.py            # ~10 minutes on 2 shared cores
    .venv/bin/python benchmarks/refind/run.py --quick    # one seed, two setups: a smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import lrfinder
import lrfinder.torch
from lrfinder.torch._refind import LoopRefinder

GRID = [float(x) for x in np.logspace(-4, 0, 9)]  # 1e-4 .. 1, half-decade steps
POLICIES = {
    "minimum, max_down 10": lrfinder.RefindPolicy(method="minimum", smoothing=0.0, max_down=10.0),
    "minimum, decay-only": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, max_up=1.0, max_down=10.0
    ),
    "minimum, 20 steps": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, num_steps=20, max_down=10.0
    ),
    "minimum, smoothed 0.5": lrfinder.RefindPolicy(method="minimum", smoothing=0.5, max_down=10.0),
    "minimum, unbounded": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, max_up=1e9, max_down=1e9
    ),
    "minimum, max_down 2": lrfinder.RefindPolicy(method="minimum", smoothing=0.0, max_down=2.0),
    "minimum, smoothed 0.5, max_down 2": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.5, max_down=2.0
    ),
    "minimum, one decade either side": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, decades_below=1, decades_above=1, max_down=10.0
    ),
    "valley": lrfinder.RefindPolicy(method="valley", max_down=10.0, smoothing=0.0),
    "valley, max_down 2": lrfinder.RefindPolicy(method="valley", max_down=2.0, smoothing=0.0),
    "valley, smoothed 0.5, max_down 2": lrfinder.RefindPolicy(
        method="valley", smoothing=0.5, max_down=2.0
    ),
    "fall": lrfinder.RefindPolicy(method="fall", max_down=10.0, smoothing=0.0),
    "fall, smoothed 0.5, max_down 2": lrfinder.RefindPolicy(
        method="fall", smoothing=0.5, max_down=2.0
    ),
    "lrfinder default": lrfinder.RefindPolicy(),
    "valley, smoothed 0.5, max_down 2, first test read by valley too": lrfinder.RefindPolicy(
        method="valley", smoothing=0.5, max_down=2.0, initial_method="valley"
    ),
    "minimum, relative": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, read="relative", max_down=10.0
    ),
    "minimum, edge": lrfinder.RefindPolicy(
        method="minimum", smoothing=0.0, read="edge", max_down=10.0
    ),
}


@dataclass(frozen=True)
class Setup:
    name: str
    x: np.ndarray
    y: np.ndarray
    classes: int  # 0 for regression
    hidden: int
    optimizer: str
    batch_size: int
    epochs: int


def _setups() -> list[Setup]:
    digits = load_digits()
    cancer = load_breast_cancer()
    rng = np.random.default_rng(0)
    xr = rng.normal(size=(1200, 8))
    noise = 0.1 * rng.normal(size=1200)
    yr = np.sin(2 * xr[:, 0]) + xr[:, 1] * xr[:, 2] + 0.5 * xr[:, 3] ** 2 + noise
    return [
        Setup("digits MLP, SGD+momentum", digits.data, digits.target, 10, 64, "sgd", 64, 10),
        Setup("digits MLP, Adam", digits.data, digits.target, 10, 64, "adam", 64, 10),
        Setup("breast cancer MLP, Adam", cancer.data, cancer.target, 2, 32, "adam", 32, 10),
        Setup("synthetic regression MLP, SGD", xr, yr, 0, 64, "sgd", 32, 10),
    ]


class Batches:
    """A re-iterable of shuffled (x, y) batches; shuffling draws from torch's global RNG."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def __iter__(self):
        order = torch.randperm(len(self.x))
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            yield self.x[idx], self.y[idx]

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)


def _problem(setup: Setup, seed: int):
    stratify = setup.y if setup.classes else None
    xtr, xva, ytr, yva = train_test_split(
        setup.x, setup.y, test_size=0.25, random_state=seed, stratify=stratify
    )
    scaler = StandardScaler().fit(xtr)
    xtr, xva = (torch.tensor(scaler.transform(a), dtype=torch.float32) for a in (xtr, xva))
    if setup.classes:
        ytr, yva = torch.tensor(ytr), torch.tensor(yva)
        loss_fn: Callable[..., torch.Tensor] = torch.nn.functional.cross_entropy
    else:
        ytr, yva = (torch.tensor(a, dtype=torch.float32)[:, None] for a in (ytr, yva))
        loss_fn = torch.nn.functional.mse_loss
    return xtr, ytr, xva, yva, loss_fn


def _model(setup: Setup, inputs: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    outputs = setup.classes or 1
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, setup.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(setup.hidden, setup.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(setup.hidden, outputs),
    )


def _optimizer(setup: Setup, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if setup.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=lr)


def one_cycle(step: int, *, total: int, max_lr: float, pct_start: float = 0.3) -> float:
    """PyTorch's OneCycleLR (cosine annealing, div_factor=25, final_div_factor=1e4)."""
    initial, final = max_lr / 25.0, max_lr / 25.0 / 1e4
    up = pct_start * total - 1
    if step <= up:
        start, end, frac = initial, max_lr, step / up
    else:
        start, end, frac = max_lr, final, (step - up) / (total - 1 - up)
    return end + (start - end) / 2.0 * (1 + math.cos(math.pi * min(frac, 1.0)))


class Run:
    """One training run: a model, its optimizer, its data, and a rate for each step."""

    def __init__(self, setup: Setup, seed: int) -> None:
        self.setup = setup
        xtr, ytr, self.xva, self.yva, self.loss_fn = _problem(setup, seed)
        self.model = _model(setup, xtr.shape[1], seed)
        self.opt = _optimizer(setup, self.model, 1e-3)
        torch.manual_seed(seed + 1000)  # the data order, the same for every strategy
        self.data = Batches(xtr, ytr, setup.batch_size)
        self.total = setup.epochs * len(self.data)

    def find(self) -> lrfinder.RangeTestResult:
        return lrfinder.torch.find_lr(
            self.model, self.opt, self.data, loss_fn=self.loss_fn, progress=False
        )

    def train(
        self,
        rate: Callable[[int], float] | None = None,
        *,
        after_step: Callable[[], object] | None = None,
        after_epoch: Callable[[], object] | None = None,
    ) -> float:
        step = 0
        for epoch in range(self.setup.epochs):
            self.model.train()
            for x, y in self.data:
                if rate is not None:
                    for group in self.opt.param_groups:
                        group["lr"] = rate(step)
                self.opt.zero_grad()
                loss = self.loss_fn(self.model(x), y)
                if not torch.isfinite(loss):
                    return math.inf
                loss.backward()
                self.opt.step()
                step += 1
                if after_step:
                    after_step()
            if after_epoch and epoch < self.setup.epochs - 1:  # no re-run after the last epoch
                after_epoch()
        self.model.eval()
        with torch.no_grad():
            val = float(self.loss_fn(self.model(self.xva), self.yva))
        return val if math.isfinite(val) else math.inf


def _run_setup(setup: Setup, seed: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for method in ("fall", "minimum", "valley"):
        run = Run(setup, seed)
        first = run.find()
        lr = lrfinder.suggest(first, method).lr
        val = run.train(lambda s, lr=lr: lr)
        out[f"(a) one test, constant ({method})"] = {"val": val, "test_steps": first.steps}
        if method == "fall":  # fall reads a one-cycle peak with its own offset
            lr = lrfinder.suggest(first, method, for_schedule="onecycle").lr
        run = Run(setup, seed)
        total = run.total
        val = run.train(lambda s, lr=lr, n=total: one_cycle(s, total=n, max_lr=lr))
        out[f"(b) one test, one-cycle ({method})"] = {"val": val, "test_steps": first.steps}

    for name, policy in POLICIES.items():
        run = Run(setup, seed)
        loop = LoopRefinder(run.model, run.opt, run.data, loss_fn=run.loss_fn, policy=policy)
        val = run.train(after_step=loop.step_end, after_epoch=loop.epoch_end)
        out[f"(c) re-find every epoch: {name}"] = {
            "val": val,
            "test_steps": loop.steps_spent,
            "final_lr": loop.lr,
        }

    grid = []
    for rate in GRID:
        run = Run(setup, seed)
        grid.append(run.train(lambda s, r=rate: r))
    best = int(np.argmin(grid))
    out["(d) grid-searched constant"] = {
        "val": grid[best],
        "test_steps": 0,
        "train_runs": len(GRID),
        "best_lr": GRID[best],
    }
    return out


def _table(results: dict[str, list[dict[str, dict[str, float]]]]) -> str:
    lines = []
    for setup, per_seed in results.items():
        steps_per_training = per_seed[0]["meta"]["train_steps"]
        lines.append(f"\n**{setup}** ({steps_per_training} training steps per run)\n")
        lines.append("| strategy | final val loss (mean ± sd) | range-test steps | note |")
        lines.append("| --- | --- | --- | --- |")
        names = [k for k in per_seed[0] if k != "meta"]
        for name in names:
            vals = np.array([r[name]["val"] for r in per_seed])
            steps = np.mean([r[name]["test_steps"] for r in per_seed])
            note = ""
            if "best_lr" in per_seed[0][name]:
                picks = ", ".join(f"{r[name]['best_lr']:.2g}" for r in per_seed)
                note = f"{len(GRID)} full trainings; best rate per seed: {picks}"
            elif "final_lr" in per_seed[0][name]:
                note = "final rate: " + ", ".join(f"{r[name]['final_lr']:.2g}" for r in per_seed)
            finite = vals[np.isfinite(vals)]
            cell = f"{finite.mean():.4f} ± {finite.std():.4f}" if finite.size else "diverged"
            if finite.size < vals.size:
                cell += f" ({vals.size - finite.size} diverged)"
            lines.append(f"| {name} | {cell} | {steps:.0f} | {note} |")
    return "\n".join(lines)


def _compact(results: dict[str, list[dict[str, dict[str, float]]]]) -> str:
    """One row per strategy, one column per setup: mean final validation loss (sd)."""
    setups = list(results)
    names = [k for k in results[setups[0]][0] if k != "meta"]
    head = " | ".join(setups)
    lines = [
        f"| strategy | {head} | range-test steps (mean per run) |",
        "| --- |" + " ---: |" * (len(setups) + 1),
    ]
    for name in names:
        cells, steps = [], []
        for setup in setups:
            vals = np.array([r[name]["val"] for r in results[setup]])
            steps += [r[name]["test_steps"] for r in results[setup]]
            finite = vals[np.isfinite(vals)]
            cells.append(f"{finite.mean():.3f} ({finite.std():.3f})" if finite.size else "diverged")
        lines.append(f"| {name} | {' | '.join(cells)} | {np.mean(steps):.0f} |")
    train = ", ".join(str(results[s][0]["meta"]["train_steps"]) for s in setups)
    lines.append(f"\nTraining steps per run: {train}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, two setups")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Short re-runs from trained weights are often flagged noisy; the rates are what is measured.
    warnings.simplefilter("ignore", lrfinder.LRFinderWarning)
    setups = _setups()[:2] if args.quick else _setups()
    seeds = range(1 if args.quick else args.seeds)
    started = time.perf_counter()
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    for setup in setups:
        for seed in seeds:
            res: dict = _run_setup(setup, seed)
            res["meta"] = {"train_steps": Run(setup, seed).total}
            results.setdefault(setup.name, []).append(res)
    print(_compact(results))
    print(_table(results))
    print(f"\n{time.perf_counter() - started:.0f} s, torch {torch.__version__}, 1 thread")
    if not args.quick:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
