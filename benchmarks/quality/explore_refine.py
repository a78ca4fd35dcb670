"""Whether the race's answer can be placed between its candidates (BENCHMARKS.md, "Between the
candidates"), from the cached ``race_default`` races: no training, scored like ``explore_cap``
on the oracle grid's mean loss interpolated at the rate.

    python -m benchmarks.quality.explore_refine      # seconds, from the cache

The race's candidates are half a decade apart, and its answer is one of them. Each reading
below moves it using only what the race already measured:
- ``midpoint <tau>``: when the runner-up's last held-out loss is within ``tau`` (relative) of
  the winner's, the geometric mean of the two;
- ``toward <tau>``: from the winner toward the runner-up, half the gap at a tie and none at
  ``tau`` apart;
- ``vertex, round <k>``: the vertex of the parabola (in log10 rate) through the winner and its
  two neighbours' losses in round ``k``, at most a quarter decade from the winner.

Chosen on the development split, as the race's defaults were; the other splits are held out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import report, run
from .race import load_race, race_key
from .setups import SETUPS

Reading = Callable[[Any], float]
SPLITS = {"development": {"dev"}, "held out": {"test", "external", "fresh", "race"}}


def _finalists(tuned: Any) -> list[tuple[float, float]]:
    """(loss, rate) of the last round's candidates, best first."""
    last = tuned.rounds[-1].losses
    return sorted(
        (loss, lr) for loss, lr in zip(last, tuned.rates, strict=True) if math.isfinite(loss)
    )


def midpoint(tau: float) -> Reading:
    def read(tuned: Any) -> float:
        best = _finalists(tuned)
        if len(best) < 2 or (best[1][0] - best[0][0]) > tau * abs(best[0][0]):
            return float(tuned.lr)
        return math.sqrt(best[0][1] * best[1][1])

    return read


def toward(tau: float) -> Reading:
    def read(tuned: Any) -> float:
        best = _finalists(tuned)
        if len(best) < 2 or best[0][0] == 0:
            return float(tuned.lr)
        share = 0.5 * max(0.0, 1.0 - (best[1][0] - best[0][0]) / (tau * abs(best[0][0])))
        return 10 ** ((1 - share) * math.log10(best[0][1]) + share * math.log10(best[1][1]))

    return read


def vertex(round_index: int, clamp: float = 0.25) -> Reading:
    def read(tuned: Any) -> float:
        losses = tuned.rounds[round_index].losses
        points = sorted(
            (math.log10(lr), loss)
            for lr, loss in zip(tuned.rates, losses, strict=True)
            if math.isfinite(loss)
        )
        xs = [x for x, _ in points]
        w = math.log10(tuned.lr)
        at = [k for k, x in enumerate(xs) if abs(x - w) < 1e-9]
        if not at or at[0] in (0, len(xs) - 1):
            return float(tuned.lr)
        (x0, y0), (x1, y1), (x2, y2) = points[at[0] - 1 : at[0] + 2]
        a, b, _ = np.polyfit([x0, x1, x2], [y0, y1, y2], 2)
        if a <= 0:
            return float(tuned.lr)
        return 10 ** min(max(-b / (2 * a), w - clamp), w + clamp)

    return read


READINGS: dict[str, Reading] = {
    "the race's answer": lambda tuned: float(tuned.lr),
    **{f"midpoint {tau}": midpoint(tau) for tau in (0.02, 0.05, 0.1)},
    **{f"toward {tau}": toward(tau) for tau in (0.02, 0.05, 0.1)},
    **{f"vertex, round {k + 1}": vertex(k) for k in (0, 1)},
}


def scores(
    caches: dict[str, run.Cache], read: Reading, protocol: str, splits: set[str]
) -> tuple[float, float, float]:
    """Share in the good range, median distance to its centre (decades), mean regret."""
    good, distance, regret = [], [], []
    for setup in SETUPS:
        if setup.split not in splits:
            continue
        orc = report.oracle(caches, setup, protocol)
        for seed in run.SEEDS:
            tuned = load_race(caches, setup, race_key("race_default", protocol, seed))
            if tuned is None:
                continue
            lr = read(tuned)
            row = report.rate_row(orc, lr, report.interpolated_loss(orc, lr))
            good.append(row["good"])
            distance.append(row["distance_centre"])
            regret.append(row["regret"])
    return float(np.mean(good)), float(np.median(distance)), float(np.mean(regret))


def main() -> None:
    caches = {name: run.Cache(name) for name in ("runs", "curves", "races")}
    print("| reading | protocol | split | in good range | distance to centre | regret (grid) |")
    print("|---|---|---|---:|---:|---:|")
    for protocol in run.PROTOCOLS:
        for split, members in SPLITS.items():
            for name, read in READINGS.items():
                good, distance, regret = scores(caches, read, protocol, members)
                cells = f"{good:.0%} | {distance:.2f} | {regret:.4f}"
                print(f"| {name} | {protocol} | {split} | {cells} |")


if __name__ == "__main__":
    main()
