"""Run the quality benchmark: oracle grid, range tests, suggested rates trained, tables.

    python -m benchmarks.quality.run all        # everything, resumable; then the tables
    python -m benchmarks.quality.run oracle     # only the grid search (the slow part)
    python -m benchmarks.quality.run report     # tables from what is cached
    python -m benchmarks.quality.run all --split race   # only one split's setups (then all tables)
    python -m benchmarks.quality.run race       # tune_lr's race, random search and Optuna (race.py)

Every finished training run is cached in ``benchmarks/quality/results/runs/<setup>.json`` (final
validation loss per protocol, rate and seed) and every range test in ``results/curves/``, so an
interrupted run resumes where it stopped and the tables are rebuilt from the cache in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import train
from .setups import BY_NAME, SETUPS, Setup

RESULTS = Path(__file__).parent / "results"
# 29 rates, a quarter decade apart, 1e-6..10: the oracle's grid.
GRID = tuple(float(f"{1e-6 * 10 ** (k / 4):.6g}") for k in range(29))
SEEDS = (0, 1, 2)  # the finders' seeds: one range test (and its trained rate) per seed
# The oracle's seeds per grid rate: 10, since the 3 the issue asks for left its best rate noisy
# (one seed's best reproduced the 3-seed best at rank correlation 0.68 / 0.82), and 5 still did;
# the first 3 are SEEDS, so the report can still show the 3- and 5-seed oracles beside it, and
# seeds 0-4 against 5-9 measure how well the oracle reproduces its own best rate.
ORACLE_SEEDS = tuple(range(10))
FRESH_SEEDS = (100, 101, 102)  # the noise floor: the best rate retrained with new seeds
PROTOCOLS = ("constant", "onecycle")
LR_FREE = ("prodigy", "dadapt_adam", "schedulefree_adamw")
WORKERS = 2
# Sweeps per seed read by the `fall x3` row: the default rule on repeated range tests (median).
REPEATS = 3


def run_key(protocol: str, lr: float, seed: int) -> str:
    return f"{protocol}|{lr:.6g}|{seed}"


class Cache:
    """A JSON file per setup: key -> value, written atomically, read back on resume."""

    def __init__(self, folder: str) -> None:
        self.folder = RESULTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data: dict[str, dict[str, Any]] = {}
        for setup in SETUPS:
            path = self.folder / f"{setup.name}.json"
            self.data[setup.name] = json.loads(path.read_text()) if path.exists() else {}

    def has(self, setup: str, key: str) -> bool:
        return key in self.data[setup]

    def get(self, setup: str, key: str) -> Any:
        return self.data[setup].get(key)

    def put(self, setup: str, key: str, value: Any) -> None:
        self.data[setup][key] = value

    def flush(self) -> None:
        for name, values in self.data.items():
            path = self.folder / f"{name}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(dict(sorted(values.items())), indent=0) + "\n")
            os.replace(tmp, path)


def _nan_to_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _execute(task: tuple[str, str, str, dict[str, Any]]) -> tuple[str, str, str, Any]:
    kind, setup_name, key, args = task
    setup = BY_NAME[setup_name]
    value: Any
    if kind == "L0":
        value = train.untrained_loss(setup, args["seed"])
    elif kind == "train":
        value = _nan_to_none(train.train(setup, **args))
    elif kind == "lrfree":
        value = _nan_to_none(train.train_lr_free(setup, **args))
    elif kind == "lrfinder":
        value = train.lrfinder_curve(setup, args["seed"], args.get("repeat", 0))
    elif kind == "torch_lr_finder":
        value = _nan_to_none(train.torch_lr_finder_suggestion(setup, args["seed"]))
    elif kind in ("race", "search"):
        from . import race

        value = race.execute(kind, setup_name, args)
    else:
        value = _nan_to_none(train.lightning_suggestion(setup, args["seed"]))
    return kind, setup_name, key, value


def execute_all(
    tasks: list[tuple[str, str, str, dict[str, Any]]], caches: dict[str, Cache]
) -> None:
    """Run the tasks not cached yet on ``WORKERS`` processes, caching as results come in."""
    folder = {"L0": "runs", "train": "runs", "lrfree": "runs", "race": "races", "search": "races"}
    todo = [t for t in tasks if not caches[folder.get(t[0], "curves")].has(t[1], t[2])]
    if not todo:
        return
    print(f"{len(todo)} task(s) to run ({len(tasks) - len(todo)} cached)", flush=True)
    started = last_flush = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(WORKERS, initializer=_init_worker, maxtasksperchild=200) as pool:
        for done, (kind, name, key, value) in enumerate(
            pool.imap_unordered(_execute, todo, chunksize=1), start=1
        ):
            if kind == "race":  # every variant of one setup, seed and protocol
                for k, v in value.items():
                    caches["races"].put(name, k, v)
            else:
                caches[folder.get(kind, "curves")].put(name, key, value)
            now = time.monotonic()
            if now - last_flush > 20 or done == len(todo):
                for cache in caches.values():
                    cache.flush()
                last_flush = now
                print(f"  {done}/{len(todo)} in {now - started:.0f}s", flush=True)


def oracle_tasks(setups: Iterable[Setup] = SETUPS) -> list[tuple[str, str, str, dict[str, Any]]]:
    tasks: list[tuple[str, str, str, dict[str, Any]]] = []
    for setup in setups:
        tasks += [("L0", setup.name, f"L0|{s}", {"seed": s}) for s in SEEDS]
        for protocol in PROTOCOLS:
            for lr in GRID:
                for seed in ORACLE_SEEDS:
                    args = {"lr": lr, "seed": seed, "protocol": protocol}
                    tasks.append(("train", setup.name, run_key(protocol, lr, seed), args))
    return tasks


def curve_tasks(
    finders: Iterable[str], setups: Iterable[Setup] = SETUPS
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """One range test per finder, setup and seed; finders not installed are left out (their
    rows are then missing from the tables)."""
    import importlib.util

    setups = list(setups)
    modules = {"torch_lr_finder": "torch_lr_finder", "lightning": "lightning"}
    missing = [f for f in finders if f in modules and not importlib.util.find_spec(modules[f])]
    for finder in missing:
        print(f"{finder} is not installed: left out (pip install -r benchmarks/requirements.txt)")
    finders = [f for f in finders if f not in missing]
    tasks = [
        (finder, s.name, f"{finder}|{seed}", {"seed": seed})
        for finder in finders
        for s in setups
        for seed in SEEDS
    ]
    if "lrfinder" in finders:  # the further sweeps that `repeats` reads (see REPEATS)
        tasks += [
            ("lrfinder", s.name, repeat_key(seed, k), {"seed": seed, "repeat": k})
            for s in setups
            for seed in SEEDS
            for k in range(1, REPEATS)
        ]
    return tasks


def repeat_key(seed: int, repeat: int) -> str:
    """The cache key of a range test: repeat 0 is the seed's single sweep."""
    return f"lrfinder|{seed}" if repeat == 0 else f"lrfinder|{seed}|r{repeat}"


def _installed_lr_free() -> list[str]:
    import importlib.util

    module = {"prodigy": "prodigyopt", "dadapt_adam": "dadaptation"}
    found = [n for n in LR_FREE if importlib.util.find_spec(module.get(n, "schedulefree"))]
    for name in sorted(set(LR_FREE) - set(found)):
        print(f"{name} is not installed: left out (pip install -r benchmarks/requirements.txt)")
    return found


def evaluate_tasks(
    caches: dict[str, Cache], setups: Iterable[Setup] = SETUPS
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Train every suggested rate, the learning-rate-free optimizers, and the noise floor."""
    from .report import oracle, suggested_rates

    tasks: list[tuple[str, str, str, dict[str, Any]]] = []
    lr_free = _installed_lr_free()
    for setup in setups:
        for protocol in PROTOCOLS:
            rates = suggested_rates(caches, setup, protocol)
            for per_seed in rates.values():
                for seed, lr in zip(SEEDS, per_seed, strict=True):
                    if lr is not None and math.isfinite(lr):
                        args = {"lr": lr, "seed": seed, "protocol": protocol}
                        tasks.append(("train", setup.name, run_key(protocol, lr, seed), args))
            best = oracle(caches, setup, protocol)["best_lr"]
            for seed in FRESH_SEEDS:
                args = {"lr": best, "seed": seed, "protocol": protocol}
                tasks.append(("train", setup.name, run_key(protocol, best, seed), args))
        for name in lr_free:
            tasks += [
                ("lrfree", setup.name, f"lrfree|{name}|{s}", {"name": name, "seed": s})
                for s in SEEDS
            ]
    return list({(t[1], t[2]): t for t in tasks}.values())


def race_train_tasks(
    caches: dict[str, Cache], setups: Iterable[Setup] = SETUPS
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Train every rate the race variants and the searches chose, as every finder's rate is."""
    from .race import tuner_rates

    tasks = []
    for setup in setups:
        for protocol in PROTOCOLS:
            for per_seed in tuner_rates(caches, setup, protocol).values():
                for seed, lr in zip(SEEDS, per_seed, strict=True):
                    if lr is not None and math.isfinite(lr):
                        args = {"lr": lr, "seed": seed, "protocol": protocol}
                        tasks.append(("train", setup.name, run_key(protocol, lr, seed), args))
    return list({(t[1], t[2]): t for t in tasks}.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality.run")
    parser.add_argument("stage", choices=["oracle", "curves", "evaluate", "race", "report", "all"])
    parser.add_argument(
        "--finders",
        default="lrfinder,torch_lr_finder,lightning",
        help="range-test tools to run (comma-separated)",
    )
    parser.add_argument(
        "--split",
        choices=sorted({s.split for s in SETUPS}),
        help="run only this split's setups (the report still shows every setup)",
    )
    args = parser.parse_args(argv)
    stage, finders = args.stage, args.finders.split(",")
    setups = [s for s in SETUPS if args.split in (None, s.split)]
    caches = {"runs": Cache("runs"), "curves": Cache("curves"), "races": Cache("races")}
    started = time.monotonic()
    if stage in ("curves", "all"):
        execute_all(curve_tasks(finders, setups), caches)
    if stage in ("oracle", "all"):
        execute_all(oracle_tasks(setups), caches)
    if stage in ("evaluate", "all"):
        execute_all(evaluate_tasks(caches, setups), caches)
    if stage in ("race", "all"):
        from . import race

        execute_all(race.race_tasks(caches, setups), caches)
        execute_all(race.search_tasks(caches, setups), caches)
        execute_all(race_train_tasks(caches, setups), caches)
    if stage in ("report", "all"):
        from .report import write_report

        write_report(caches)
    print(f"done in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
