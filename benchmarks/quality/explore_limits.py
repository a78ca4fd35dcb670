"""How far one range test's curve can be read (BENCHMARKS.md, "Fourth round"), on all setups.
Scored like ``explore_cap``: the oracle grid's mean loss interpolated at the rate, no training.

    python -m benchmarks.quality.explore_limits readings     # seconds, from the cache
    python -m benchmarks.quality.explore_limits length       # about a minute: new sweeps
    python -m benchmarks.quality.explore_limits validation   # under a minute: new sweeps

``readings``: other readings of the cached curves, each fitted to the oracle's best rate with one
setup left out and scored on it: the rate at 50..95% of the fall, at the lowest point, where the
loss climbs back by 10..100% of its fall, and where the sweep stopped; one to three of them
combined by least squares (in log10 rate), or one plus a constant offset.
``length``: the shipped rules on sweeps of 50, 100 (the default), 300 and 1000 steps.
``validation``: the shipped rules read off the validation loss, measured at every step of the
sweep on the whole validation set or on its first 32 or 128 examples, beside the training loss.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import lrfinder
from lrfinder import NoSuggestionError, RangeTestResult
from lrfinder._reading._curve import _Curve, read_curve
from lrfinder._reading._fall import _crossing

from . import report, run
from .setups import SETUPS, Setup

FRACTIONS = (0.5, 0.7, 0.8, 0.9, 0.95)
CLIMBS = (0.1, 0.25, 0.5, 1.0)
# The untrainable setup has no best rate to fit (its grid is flat): left out of the fits only.
NOT_FITTED = {"deep_mlp_sgdm"}
RULES = ("fall", "minimum", "steepest", "valley")
Rates = dict[str, list[float]]  # setup -> log10 rate per seed (NaN: no suggestion)
Features = dict[str, float]
Fit = Callable[[list[tuple[Features, float]]], Callable[[Features], float]]


def _climb(curve: _Curve, fraction: float) -> float:
    """log10 of the first rate after the lowest point where the smoothed loss is back up by
    ``fraction`` of its fall; the last rate if it never is."""
    level = float(curve.smooth[curve.argmin]) + fraction * curve.drop
    above = np.flatnonzero(curve.smooth[curve.argmin :] >= level)
    return float(curve.log_lrs[curve.argmin + int(above[0]) if above.size else -1])


def _features(result: RangeTestResult) -> Features | None:
    try:
        curve = read_curve(result)
    except NoSuggestionError:
        return None
    out = {"lowest": float(curve.log_lrs[curve.argmin]), "stop": float(curve.log_lrs[-1])}
    out.update({f"fall{int(q * 100)}": _crossing(curve, q) for q in FRACTIONS})
    out.update({f"climb{int(q * 100)}": _climb(curve, q) for q in CLIMBS})
    return out


_ORACLES: dict[tuple[str, str], dict[str, Any]] = {}


def _oracle(caches: dict[str, run.Cache], setup: Setup, protocol: str) -> dict[str, Any]:
    """``report.oracle``, computed once per setup and protocol (the fits score thousands)."""
    key = (setup.name, protocol)
    if key not in _ORACLES:
        _ORACLES[key] = report.oracle(caches, setup, protocol)
    return _ORACLES[key]


def _best(caches: dict[str, run.Cache], setup: Setup, protocol: str) -> float:
    return math.log10(_oracle(caches, setup, protocol)["best_lr"])


def scored(caches: dict[str, run.Cache], rates: Rates, protocol: str) -> tuple[float, ...]:
    """Median distance, rank correlation (median rate per setup) and mean interpolated regret
    over the setups in ``rates``; a missing rate counts as diverged."""
    distances, regrets, medians, best = [], [], [], []
    for setup in SETUPS:
        if setup.name not in rates:
            continue
        orc = _oracle(caches, setup, protocol)
        target = _best(caches, setup, protocol)
        for log_lr in rates[setup.name]:
            if not math.isfinite(log_lr):
                distances.append(math.inf)
                regrets.append(1.0)
                continue
            loss = report._clip(report.interpolated_loss(orc, 10**log_lr), orc["l0"])
            distances.append(abs(log_lr - target))
            regrets.append((loss - orc["l_star"]) / (orc["l0"] - orc["l_star"]))
        finite = [r for r in rates[setup.name] if math.isfinite(r)]
        if finite:
            medians.append(float(np.median(finite)))
            best.append(target)
    return (
        float(np.median(distances)),
        report._spearman(medians, best),
        float(np.mean(regrets)),
    )


def _row(*cells: object) -> str:
    """A Markdown table row: numbers to 2 decimals, the last one (a regret) to 3."""
    text = [f"{c:.2f}" if isinstance(c, float) else str(c) for c in cells]
    if isinstance(cells[-1], float):
        text[-1] = f"{cells[-1]:.3f}"
    return "| " + " | ".join(text) + " |"


def _shipped(results: dict[str, list[RangeTestResult]], method: str, protocol: str) -> Rates:
    out: Rates = {}
    for name, curves in results.items():
        rates = [report._rule_rate(result, method, protocol) for result in curves]
        out[name] = [math.nan if lr is None else math.log10(lr) for lr in rates]
    return out


def offset(feature: str) -> Fit:
    """The feature plus the median of (best - feature) over the fitted setups."""

    def fit(rows: list[tuple[Features, float]]) -> Callable[[Features], float]:
        shift = float(np.median([best - f[feature] for f, best in rows]))
        return lambda f: f[feature] + shift

    return fit


def least_squares(features: tuple[str, ...]) -> Fit:
    def fit(rows: list[tuple[Features, float]]) -> Callable[[Features], float]:
        x = np.array([[f[k] for k in features] + [1.0] for f, _ in rows])
        coef = np.linalg.lstsq(x, np.array([best for _, best in rows]), rcond=None)[0]
        return lambda f: float(np.dot([f[k] for k in features] + [1.0], coef))

    return fit


def leave_one_out(
    caches: dict[str, run.Cache], feats: dict[str, list[Features | None]], fit: Fit, protocol: str
) -> Rates:
    """Fit on every setup but one, read that one; a flat curve keeps the shipped fallback."""
    fallback = _shipped(
        {s.name: report.curves(caches, s) for s in SETUPS}, lrfinder.DEFAULT_METHOD, protocol
    )
    out: Rates = {}
    for setup in SETUPS:
        rows = [
            (f, _best(caches, other, protocol))
            for other in SETUPS
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


def readings(caches: dict[str, run.Cache], shown: int = 10) -> None:
    feats = {s.name: [_features(r) for r in report.curves(caches, s)] for s in SETUPS}
    names = list(next(f for f in feats[SETUPS[0].name] if f is not None))
    print("| protocol | reading (fitted leaving one setup out) | distance median | rank corr | "
          "regret mean |")  # fmt: skip
    print("|---|---|---|---|---|")
    for protocol in run.PROTOCOLS:
        curves = {s.name: report.curves(caches, s) for s in SETUPS}
        shipped = _shipped(curves, lrfinder.DEFAULT_METHOD, protocol)
        print(_row(protocol, "`fall` as shipped", *scored(caches, shipped, protocol)))
        candidates: dict[str, Fit] = {f"{k} + offset": offset(k) for k in names}
        for size in (1, 2, 3):
            for keys in itertools.combinations(names, size):
                candidates["least squares on " + ", ".join(keys)] = least_squares(keys)
        results = sorted(
            (scored(caches, leave_one_out(caches, feats, fit, protocol), protocol), name)
            for name, fit in candidates.items()
        )
        results.sort(key=lambda r: r[0][2])
        print(_row(protocol, f"the best of each column over all {len(results)} readings",
                   min(r[0][0] for r in results), max(r[0][1] for r in results),
                   min(r[0][2] for r in results)))  # fmt: skip
        for score, name in results[:shown]:
            print(_row(protocol, name, *score))


def _sweeps(steps: int, validation: int | None = None) -> dict[str, list[RangeTestResult]]:
    """lrfinder's range test (1e-7..10) of ``steps`` steps per setup and seed; with
    ``validation``, the validation loss of the first ``validation`` examples (0: all of them)
    is measured at every step."""
    import torch

    import lrfinder.torch

    torch.set_num_threads(1)
    out: dict[str, list[RangeTestResult]] = {}
    for setup in SETUPS:
        data = setup.data()
        held_out = None
        if validation is not None:
            n = validation or data.x_val.shape[0]
            held_out = [(data.x_val[:n], data.y_val[:n])]
        out[setup.name] = []
        for seed in run.SEEDS:
            model = setup.build(seed)
            out[setup.name].append(
                lrfinder.torch.find_lr(
                    model,
                    setup.make_optimizer(model.parameters(), 1e-3),
                    setup.batches(seed, steps),
                    loss_fn=data.loss_fn,
                    num_steps=steps,
                    val_data=held_out,
                    progress=False,
                )
            )
    return out


def length(caches: dict[str, run.Cache]) -> None:
    print("| sweep steps | protocol | rule | distance median | rank corr | regret mean |")
    print("|---|---|---|---|---|---|")
    for steps in (50, 100, 300, 1000):
        results = _sweeps(steps)
        for protocol in run.PROTOCOLS:
            for method in RULES:
                rates = _shipped(results, method, protocol)
                print(_row(steps, protocol, method, *scored(caches, rates, protocol)))


def validation(caches: dict[str, run.Cache]) -> None:
    print("| curve read | protocol | rule | distance median | rank corr | regret mean |")
    print("|---|---|---|---|---|---|")
    for examples in (0, 128, 32):
        results = _sweeps(100, examples)
        curves = {"training loss": results} if examples == 0 else {}
        label = "all" if examples == 0 else f"the first {examples}"
        curves[f"validation loss ({label} validation examples)"] = {
            name: [r.validation_curve() for r in rs] for name, rs in results.items()
        }
        for protocol in run.PROTOCOLS:
            for curve, read in curves.items():
                for method in RULES:
                    rates = _shipped(read, method, protocol)
                    print(_row(curve, protocol, method, *scored(caches, rates, protocol)))


def main() -> None:
    caches = {"runs": run.Cache("runs"), "curves": run.Cache("curves")}
    {"readings": readings, "length": length, "validation": validation}[sys.argv[1]](caches)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
