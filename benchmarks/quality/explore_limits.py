"""How far one range test's curve can be read (BENCHMARKS.md, "Fourth round"): other readings
of the cached curves fitted to the oracle, and other sweep lengths, on the 18 setups the rule has
been seen on (development, held-out, external). Scored like ``explore_cap``: the oracle grid's
mean loss interpolated at the rate, no training.

    python -m benchmarks.quality.explore_limits readings   # seconds, from the cache
    python -m benchmarks.quality.explore_limits length     # about a minute: runs new sweeps

``readings``: the rate at 30..95% of the fall or at the lowest point, plus a constant offset,
or a least-squares fit (in log10 rate) on one or two of them, each fitted with one setup left out
and scored on it. ``length``: the shipped rules on sweeps of 50, 100 (the default), 300 and 1000
steps (1e-7..10).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable

import numpy as np

import lrfinder
from lrfinder import NoSuggestionError, RangeTestResult
from lrfinder._curve import read_curve
from lrfinder._fall import _crossing

from . import report, run
from .setups import SETUPS, Setup

SEEN = [s for s in SETUPS if s.split != "fresh"]
FRACTIONS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
FEATURES = ("lowest", *(f"fall{int(q * 100)}" for q in FRACTIONS))
# The untrainable setup has no best rate to fit (its grid is flat): left out of the fits only.
NOT_FITTED = {"deep_mlp_sgdm"}
Rates = dict[str, list[float]]  # setup -> log10 rate per seed


def _features(result: RangeTestResult) -> dict[str, float] | None:
    try:
        curve = read_curve(result)
    except NoSuggestionError:
        return None
    out = {"lowest": float(curve.log_lrs[curve.argmin])}
    out.update({f"fall{int(q * 100)}": _crossing(curve, q) for q in FRACTIONS})
    return out


def _best(caches: dict[str, run.Cache], setup: Setup, protocol: str) -> float:
    return math.log10(report.oracle(caches, setup, protocol)["best_lr"])


def scored(caches: dict[str, run.Cache], rates: Rates, protocol: str) -> str:
    """Median distance, rank correlation (median rate per setup) and mean interpolated regret
    over the setups in ``rates``; a missing rate counts as diverged."""
    distances, regrets, medians, best = [], [], [], []
    for setup in SEEN:
        if setup.name not in rates:
            continue
        orc = report.oracle(caches, setup, protocol)
        target = _best(caches, setup, protocol)
        finite = [r for r in rates[setup.name] if math.isfinite(r)]
        for log_lr in rates[setup.name]:
            if not math.isfinite(log_lr):
                distances.append(math.inf)
                regrets.append(1.0)
                continue
            loss = report._clip(report.interpolated_loss(orc, 10**log_lr), orc["l0"])
            distances.append(abs(log_lr - target))
            regrets.append((loss - orc["l_star"]) / (orc["l0"] - orc["l_star"]))
        if finite:
            medians.append(float(np.median(finite)))
            best.append(target)
    return (
        f"{np.median(distances):.2f} | {report._spearman(medians, best):.2f} | "
        f"{np.mean(regrets):.3f}"
    )


def _shipped(results: dict[str, list[RangeTestResult]], method: str, protocol: str) -> Rates:
    options = {"for_schedule": protocol} if method == lrfinder.DEFAULT_METHOD else {}
    out: Rates = {}
    for name, curves in results.items():
        out[name] = []
        for result in curves:
            try:
                out[name].append(math.log10(lrfinder.suggest(result, method, **options).lr))
            except NoSuggestionError:
                out[name].append(math.nan)
    return out


Fit = Callable[[list[tuple[dict[str, float], float]]], Callable[[dict[str, float]], float]]


def offset(feature: str) -> Fit:
    """The feature plus the median of (best - feature) over the training setups."""

    def fit(rows: list[tuple[dict[str, float], float]]) -> Callable[[dict[str, float]], float]:
        shift = float(np.median([best - f[feature] for f, best in rows]))
        return lambda f: f[feature] + shift

    return fit


def least_squares(features: tuple[str, ...]) -> Fit:
    def fit(rows: list[tuple[dict[str, float], float]]) -> Callable[[dict[str, float]], float]:
        x = np.array([[f[k] for k in features] + [1.0] for f, _ in rows])
        coef = np.linalg.lstsq(x, np.array([best for _, best in rows]), rcond=None)[0]
        return lambda f: float(np.dot([f[k] for k in features] + [1.0], coef))

    return fit


def leave_one_out(caches: dict[str, run.Cache], fit: Fit, protocol: str) -> Rates:
    """Fit on every setup but one, read that one; a flat curve keeps the shipped fallback."""
    feats = {s.name: [_features(r) for r in report.curves(caches, s)] for s in SEEN}
    fallback = _shipped(
        {s.name: report.curves(caches, s) for s in SEEN}, lrfinder.DEFAULT_METHOD, protocol
    )
    out: Rates = {}
    for setup in SEEN:
        rows = [
            (f, _best(caches, other, protocol))
            for other in SEEN
            if other is not setup and other.name not in NOT_FITTED
            for f in feats[other.name]
            if f is not None
        ]
        reading = fit(rows)
        out[setup.name] = [
            reading(f) if f is not None else fallback[setup.name][k]
            for k, f in enumerate(feats[setup.name])
        ]
    return out


def readings(caches: dict[str, run.Cache]) -> None:
    print("| protocol | reading | distance median | rank corr | regret mean |")
    print("|---|---|---|---|---|")
    curves = {s.name: report.curves(caches, s) for s in SEEN}
    for protocol in run.PROTOCOLS:
        shipped = _shipped(curves, lrfinder.DEFAULT_METHOD, protocol)
        print(f"| {protocol} | `fall` as shipped | {scored(caches, shipped, protocol)} |")
        candidates: dict[str, Fit] = {f"{k} + offset": offset(k) for k in FEATURES}
        candidates.update({f"least squares on {k}": least_squares((k,)) for k in FEATURES})
        for a, b in itertools.combinations(FEATURES, 2):
            candidates[f"least squares on {a}, {b}"] = least_squares((a, b))
        for name, fit in candidates.items():
            rates = leave_one_out(caches, fit, protocol)
            print(f"| {protocol} | {name} | {scored(caches, rates, protocol)} |")


def length(caches: dict[str, run.Cache]) -> None:
    import torch

    import lrfinder.torch

    torch.set_num_threads(1)
    print("| sweep steps | protocol | rule | distance median | rank corr | regret mean |")
    print("|---|---|---|---|---|---|")
    for steps in (50, 100, 300, 1000):
        results: dict[str, list[RangeTestResult]] = {}
        for setup in SEEN:
            if steps == train_steps():
                results[setup.name] = report.curves(caches, setup)
                continue
            results[setup.name] = []
            for seed in run.SEEDS:
                model = setup.build(seed)
                opt = setup.make_optimizer(model.parameters(), 1e-3)
                batches = setup.batches(seed, steps)
                results[setup.name].append(
                    lrfinder.torch.find_lr(
                        model,
                        opt,
                        batches,
                        loss_fn=setup.data().loss_fn,
                        num_steps=steps,
                        progress=False,
                    )
                )
        for protocol in run.PROTOCOLS:
            for method in ("fall", "minimum", "steepest", "valley"):
                rates = _shipped(results, method, protocol)
                print(f"| {steps} | {protocol} | {method} | {scored(caches, rates, protocol)} |")


def train_steps() -> int:
    from .train import RANGE_TEST_STEPS

    return RANGE_TEST_STEPS


def main() -> None:
    caches = {"runs": run.Cache("runs"), "curves": run.Cache("curves")}
    {"readings": readings, "length": length}[sys.argv[1]](caches)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
