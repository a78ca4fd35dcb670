"""Exploration behind the cap on `fall` (BENCHMARKS.md, "Third round"): candidate readings of the
cached range tests, scored by the oracle grid's mean loss interpolated at the rate (no training).

    python -m benchmarks.quality.explore_cap

Prints, per candidate and split, the mean normalized regret over setups x seeds for each use and
their sum; the choice was made on the development rows only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lrfinder import NoSuggestionError, RangeTestResult, suggest
from lrfinder._reading._curve import read_curve
from lrfinder._reading._fall import FALL_FRACTION, OFFSET, _crossing

from . import report, run
from .setups import SETUPS

Rule = Callable[[RangeTestResult, str], float]


def _fall_uncapped(result: RangeTestResult, protocol: str) -> tuple[float, float] | None:
    """log10 of the uncapped `fall` reading and of the lowest point, or None (flat curve)."""
    try:
        curve = read_curve(result)
    except NoSuggestionError:
        return None
    crossing = _crossing(curve, FALL_FRACTION[protocol]) + OFFSET[protocol]
    return crossing, float(curve.log_lrs[curve.argmin])


def capped(decades: float) -> Rule:
    """`fall` at most ``decades`` below the lowest point (``-math.inf``: no cap, the rule of the
    second round)."""

    def rule(result: RangeTestResult, protocol: str) -> float:
        read = _fall_uncapped(result, protocol)
        if read is None:  # the flat-curve fallback, as shipped
            return suggest(result, for_schedule=protocol).lr
        return 10 ** min(read[0], read[1] - decades)

    return rule


def blended(weight: float) -> Rule:
    """log-space blend: (1 - weight) * fall + weight * (lowest point - 1 decade)."""

    def rule(result: RangeTestResult, protocol: str) -> float:
        read = _fall_uncapped(result, protocol)
        if read is None:
            return suggest(result, for_schedule=protocol).lr
        return 10 ** ((1 - weight) * read[0] + weight * (read[1] - 1.0))

    return rule


def shipped(result: RangeTestResult, protocol: str) -> float:
    return suggest(result, for_schedule=protocol).lr


def minimum(result: RangeTestResult, protocol: str) -> float:
    try:
        return suggest(result, "minimum").lr
    except NoSuggestionError:
        return math.nan


def regret(
    caches: dict[str, run.Cache], rule: Rule, split: str, protocol: str
) -> tuple[float, float]:
    """Mean normalized regret and median distance (decades) to the best grid rate."""
    values, distances = [], []
    for setup in SETUPS:
        if split != "all" and setup.split != split:
            continue
        orc = report.oracle(caches, setup, protocol)
        for result in report.curves(caches, setup):
            lr = rule(result, protocol)
            loss = orc["l0"] if not math.isfinite(lr) else report.interpolated_loss(orc, lr)
            loss = report._clip(loss, orc["l0"])
            values.append((loss - orc["l_star"]) / (orc["l0"] - orc["l_star"]))
            distances.append(abs(math.log10(lr / orc["best_lr"])) if lr > 0 else math.inf)
    return float(np.mean(values)), float(np.median(distances))


def main() -> None:
    caches = {"runs": run.Cache("runs"), "curves": run.Cache("curves")}
    rules: dict[str, Rule] = {
        "fall (shipped)": shipped,
        "fall, no cap (second round)": capped(-math.inf),
        "minimum": minimum,
    }
    for d in (0.1, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 1.0):
        rules[f"fall capped {d:g} dec below min"] = capped(d)
    for w in (0.25, 0.5):
        rules[f"blend {w:g} of min/10"] = blended(w)
    print(
        "| rule | split | constant: regret / distance | onecycle: regret / distance | regret sum |"
    )
    print("|---|---|---|---|---|")
    for split in ("dev", "test", "external", "all"):
        for name, rule in rules.items():
            (c, dc), (o, do) = (regret(caches, rule, split, p) for p in run.PROTOCOLS)
            print(f"| {name} | {split} | {c:.3f} / {dc:.2f} | {o:.3f} / {do:.2f} | {c + o:.3f} |")


if __name__ == "__main__":
    main()
