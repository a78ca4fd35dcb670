"""A check of tune_lr's default rounds on a schedule the quality benchmark does not race: cosine
annealing to zero over the budget (BENCHMARKS.md, "What the race tables say").

    python -m benchmarks.quality.explore_cosine [--splits dev,test]   # about 30 minutes

Per setup of the splits, a 3-seed grid (``run.GRID``, the finders' seeds) trains every rate with
``lrfinder.schedules.cosine_annealing(lr, T_max=steps)`` and scores the whole validation set.
Per seed, three races on the seed's cached range test choose a rate: tune_lr's default
(``shorten="truncate"``, the finalists stopping at nine tenths, up to 2 rates added past an edge),
the same without the added rates (``widen=0``, the default before), and the default before that
(``shorten="compress"``, the finalists trained to the end). Each chosen rate is trained with its
seed and scored by the mean normalized regret against the grid, as the main tables score a
rate. Nothing is cached; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
from typing import Any

import numpy as np

from . import race, run, train
from .report import GOOD_WITHIN
from .setups import BY_NAME, SETUPS

SCHEDULE = "cosine_annealing"
VARIANTS = {
    "default (truncated, to 0.9, widen)": {},
    "truncated, to 0.9, no widen": {"widen": 0},
    "compressed, to the end, no widen": {"shorten": "compress", "widen": 0},
}


def _loss(setup_name: str, seed: int, lr: float) -> float:
    """The whole validation set's loss after the budget at ``lr`` (inf: diverged)."""
    setup = BY_NAME[setup_name]
    data = setup.data()
    whole = [(data.x_val, data.y_val)]
    loss, _ = race._trial(setup, seed, SCHEDULE, lr, whole, max_steps=setup.steps)
    return loss


def _setup_rows(setup_name: str) -> dict[str, Any]:
    import lrfinder.torch
    from lrfinder import RangeTestResult

    from .run import Cache

    setup = BY_NAME[setup_name]
    l0 = float(np.mean([train.untrained_loss(setup, s) for s in run.SEEDS]))
    grid = np.array([[min(_loss(setup_name, s, lr), l0) for s in run.SEEDS] for lr in run.GRID])
    mean = grid.mean(axis=1)
    l_star = float(mean.min())
    within = l_star + GOOD_WITHIN * abs(l_star)
    good = [lr for lr, m in zip(run.GRID, mean, strict=True) if m <= within]
    races = Cache("races")
    out: dict[str, Any] = {"split": setup.split}
    for name, options in VARIANTS.items():
        regrets, costs, inside = [], [], []
        for seed in run.SEEDS:
            test = RangeTestResult.from_dict(races.get(setup.name, f"rangetest|{seed}"))
            model = setup.build(seed)
            opt = setup.make_optimizer(model.parameters(), 1e-3)
            tuned = lrfinder.torch.tune_lr(
                model, opt, setup.batches(seed, setup.steps), total_steps=setup.steps,
                loss_fn=setup.data().loss_fn, val_data=race.val_batches(setup),
                val_batches=race.VAL_BATCHES, for_schedule=SCHEDULE, result=test,
                progress=False, **options,
            )  # fmt: skip
            loss = min(_loss(setup_name, seed, tuned.lr), l0)
            regrets.append((loss - l_star) / (l0 - l_star))
            costs.append(tuned.steps_spent / setup.steps)
            low, high = min(good) * 10 ** (-1 / 8), max(good) * 10 ** (1 / 8)
            inside.append(low <= tuned.lr <= high)
        out[name] = {"regrets": regrets, "costs": costs, "inside": inside}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="dev,test")
    args = parser.parse_args()
    splits = args.splits.split(",")
    names = [s.name for s in SETUPS if s.split in splits]
    with multiprocessing.get_context("spawn").Pool(run.WORKERS) as pool:
        rows = dict(zip(names, pool.map(_setup_rows, names), strict=True))
    print(f"Cosine annealing, {len(names)} setups ({', '.join(splits)}), 3 seeds each.\n")
    print("| race | setups | regret mean | in good range | cost median (trainings) |")
    print("|---|---|---|---|---|")
    groups = [("all", names)] + [(s, [n for n in names if rows[n]["split"] == s]) for s in splits]
    for label, group in groups:
        for name in VARIANTS:
            regrets = [r for n in group for r in rows[n][name]["regrets"]]
            inside = [i for n in group for i in rows[n][name]["inside"]]
            costs = [c for n in group for c in rows[n][name]["costs"]]
            print(
                f"| {name} | {label} | {np.mean(regrets):.4f} | {np.mean(inside):.0%} | "
                f"{statistics.median(costs):.2f} |"
            )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
