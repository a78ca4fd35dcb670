"""The metrics and tables of the quality benchmark, computed from the cache alone."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

import lrfinder
from lrfinder import NoSuggestionError, RangeTestResult

from .setups import NO_TUNING_LR, SETUPS, Setup

if TYPE_CHECKING:
    from .run import Cache

GOOD_WITHIN = 0.10  # the oracle's good range: rates whose loss is within 10% of the best


def _runs() -> Any:
    from . import run

    return run


def oracle(caches: dict[str, Cache], setup: Setup, protocol: str) -> dict[str, Any]:
    """The grid search: mean final validation loss per rate over the seeds, its best rate."""
    run = _runs()
    runs = caches["runs"]
    l0 = float(np.mean([runs.get(setup.name, f"L0|{s}") for s in run.SEEDS]))
    per_seed = np.array(
        [
            [_clip(runs.get(setup.name, run.run_key(protocol, lr, s)), l0) for s in run.SEEDS]
            for lr in run.GRID
        ]
    )
    mean = per_seed.mean(axis=1)
    best = int(np.argmin(mean))
    l_star = float(mean[best])
    good = np.flatnonzero(mean <= l_star + GOOD_WITHIN * abs(l_star))
    return {
        "l0": l0,
        "l_star": l_star,
        "best_lr": run.GRID[best],
        "best_index": best,
        "mean": mean,
        "per_seed": per_seed,
        "good_low": run.GRID[int(good.min())],
        "good_high": run.GRID[int(good.max())],
    }


def _clip(loss: float | None, l0: float) -> float:
    """A diverged run (NaN, or no better than untrained) counts as the untrained loss."""
    return l0 if loss is None or not math.isfinite(loss) or loss > l0 else float(loss)


def curves(caches: dict[str, Cache], setup: Setup) -> list[RangeTestResult]:
    run = _runs()
    return [
        RangeTestResult.from_dict(caches["curves"].get(setup.name, f"lrfinder|{s}"))
        for s in run.SEEDS
    ]


def methods() -> list[str]:
    """Every rule compared: lrfinder's registry, the other finders, no tuning."""
    return [*lrfinder.methods(), "torch_lr_finder", "lightning", "no_tuning"]


def _rule_rate(result: RangeTestResult, method: str, protocol: str) -> float | None:
    options = {"for_schedule": protocol} if method == lrfinder.DEFAULT_METHOD else {}
    try:
        return lrfinder.suggest(result, method, **options).lr
    except NoSuggestionError:
        return None


def suggested_rates(
    caches: dict[str, Cache], setup: Setup, protocol: str
) -> dict[str, list[float | None]]:
    """Each method's rate per seed (None where it gave none)."""
    run = _runs()
    out: dict[str, list[float | None]] = {}
    results = curves(caches, setup)
    for name in lrfinder.methods():
        out[name] = [_rule_rate(r, name, protocol) for r in results]
    for finder in ("torch_lr_finder", "lightning"):
        values = [caches["curves"].get(setup.name, f"{finder}|{s}") for s in run.SEEDS]
        if all(caches["curves"].has(setup.name, f"{finder}|{s}") for s in run.SEEDS):
            out[finder] = values
    out["no_tuning"] = [NO_TUNING_LR[setup.optimizer]] * len(run.SEEDS)
    return out


def interpolated_loss(orc: dict[str, Any], lr: float) -> float:
    """The oracle's mean loss at ``lr``, interpolated on log10(rate) (for designing the rule)."""
    run = _runs()
    return float(np.interp(math.log10(lr), np.log10(run.GRID), orc["mean"]))


def score(
    caches: dict[str, Cache], setup: Setup, protocol: str, *, trained: bool = True
) -> dict[str, dict[str, Any]]:
    """Per method: distance (decades), regret, in-good-range, diverged, per seed; and spread."""
    run = _runs()
    orc = oracle(caches, setup, protocol)
    l0, l_star = orc["l0"], orc["l_star"]
    out: dict[str, dict[str, Any]] = {}
    for name, rates in suggested_rates(caches, setup, protocol).items():
        rows = []
        for seed, lr in zip(run.SEEDS, rates, strict=True):
            if lr is None or not math.isfinite(lr):
                rows.append({"distance": math.inf, "regret": 1.0, "good": False, "diverged": True})
                continue
            raw = caches["runs"].get(setup.name, run.run_key(protocol, lr, seed))
            if (
                trained
                and raw is None
                and not caches["runs"].has(setup.name, run.run_key(protocol, lr, seed))
            ):
                raw = interpolated_loss(orc, lr)  # not trained yet: read the grid
            loss = _clip(raw if trained else interpolated_loss(orc, lr), l0)
            rows.append(
                {
                    "distance": abs(math.log10(lr) - math.log10(orc["best_lr"])),
                    "regret": (loss - l_star) / (l0 - l_star) if l0 > l_star else 0.0,
                    "good": orc["good_low"] * 10**-0.125 <= lr <= orc["good_high"] * 10**0.125,
                    "diverged": loss >= l0,
                }
            )
        logs = [math.log10(r) for r in rates if r is not None and math.isfinite(r)]
        out[name] = {
            "rows": rows,
            "rates": rates,
            "spread": float(np.std(logs)) if len(logs) == len(rates) else math.inf,
        }
    return out


def noise_floor(caches: dict[str, Cache], setup: Setup, protocol: str) -> dict[str, float]:
    """The best rate retrained with fresh seeds (regret), and one seed's best vs the mean's."""
    run = _runs()
    orc = oracle(caches, setup, protocol)
    l0, l_star = orc["l0"], orc["l_star"]
    fresh = [
        _clip(caches["runs"].get(setup.name, run.run_key(protocol, orc["best_lr"], s)), l0)
        for s in run.FRESH_SEEDS
        if caches["runs"].has(setup.name, run.run_key(protocol, orc["best_lr"], s))
    ]
    regret = (float(np.mean(fresh)) - l_star) / (l0 - l_star) if fresh and l0 > l_star else 0.0
    seed_best = np.argmin(orc["per_seed"], axis=0)
    distance = float(np.median(np.abs(seed_best - orc["best_index"]))) / 4.0
    return {"regret": max(regret, 0.0), "distance": distance}


def _spearman(a: list[float], b: list[float]) -> float:
    if len(a) < 3:
        return math.nan
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def summarize(
    caches: dict[str, Cache], setups: list[Setup], protocol: str, *, trained: bool = True
) -> dict[str, dict[str, float]]:
    """The across-setup metrics of every method for one protocol."""
    scores = {s.name: score(caches, s, protocol, trained=trained) for s in setups}
    best = {s.name: math.log10(oracle(caches, s, protocol)["best_lr"]) for s in setups}
    table: dict[str, dict[str, float]] = {}
    for name in scores[setups[0].name]:
        rows = [r for s in setups for r in scores[s.name].get(name, {"rows": []})["rows"]]
        if len(rows) < len(setups) * 3:
            continue
        dist = np.array([r["distance"] for r in rows])
        regret = np.array([r["regret"] for r in rows])
        medians, targets = [], []
        for s in setups:
            rates = [r for r in scores[s.name][name]["rates"] if r is not None and math.isfinite(r)]
            if rates:
                medians.append(float(np.median(np.log10(rates))))
                targets.append(best[s.name])
        table[name] = {
            "distance_median": float(np.median(dist)),
            "distance_p90": float(np.percentile(dist, 90)),
            "regret_mean": float(regret.mean()),
            "regret_median": float(np.median(regret)),
            "regret_p90": float(np.percentile(regret, 90)),
            "in_good_range": float(np.mean([r["good"] for r in rows])),
            "diverged": int(sum(r["diverged"] for r in rows)),
            "failed": int(sum(math.isinf(r["distance"]) for r in rows)),
            "rank_corr": _spearman(medians, targets),
            "spread_median": float(np.median([scores[s.name][name]["spread"] for s in setups])),
        }
    floor = [noise_floor(caches, s, protocol) for s in setups]
    table["oracle (fresh seeds)"] = {
        "distance_median": float(np.median([f["distance"] for f in floor])),
        "regret_mean": float(np.mean([f["regret"] for f in floor])),
    }
    return table


def lr_free(caches: dict[str, Cache], setups: list[Setup], protocol: str) -> dict[str, float]:
    """Mean normalized regret of each learning-rate-free optimizer against the protocol's L*."""
    run = _runs()
    out = {}
    for name in run.LR_FREE:
        regrets = []
        for s in setups:
            orc = oracle(caches, s, protocol)
            for seed in run.SEEDS:
                key = f"lrfree|{name}|{seed}"
                if not caches["runs"].has(s.name, key):
                    continue
                loss = _clip(caches["runs"].get(s.name, key), orc["l0"])
                regrets.append((loss - orc["l_star"]) / (orc["l0"] - orc["l_star"]))
        if regrets:
            out[name] = float(np.mean(regrets))
    return out


def cost(caches: dict[str, Cache]) -> dict[str, float]:
    """Steps of lrfinder's range test as a share of the grid search's steps, per setup."""
    run = _runs()
    shares = {}
    for s in SETUPS:
        steps = sum(r.steps for r in curves(caches, s)) / len(run.SEEDS)
        shares[s.name] = steps / (len(run.GRID) * len(run.SEEDS) * s.steps)
    return shares


# -- tables -----------------------------------------------------------------------------------
def _fmt(v: float, digits: int = 2) -> str:
    if isinstance(v, int):
        return str(v)
    return "-" if v is None or math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.{digits}f}")


def table_md(caches: dict[str, Cache], setups: list[Setup], title: str) -> str:
    lines = [f"### {title} ({len(setups)} setups, 3 seeds each)", ""]
    lines.append(
        "| method | protocol | distance median | distance p90 | rank corr | regret mean | "
        "regret p90 | in good range | diverged | no answer | spread median |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for protocol in _runs().PROTOCOLS:
        table = summarize(caches, setups, protocol)
        order = sorted(
            (k for k in table if "distance_p90" in table[k]),
            key=lambda k: table[k]["regret_mean"],
        )
        for name in order:
            t = table[name]
            label = f"**{name}** (default)" if name == lrfinder.DEFAULT_METHOD else name
            lines.append(
                f"| {label} | {protocol} | {_fmt(t['distance_median'])} | "
                f"{_fmt(t['distance_p90'])} | {_fmt(t['rank_corr'])} | "
                f"{_fmt(t['regret_mean'], 3)} | {_fmt(t['regret_p90'], 3)} | "
                f"{t['in_good_range']:.0%} | {t['diverged']} | {t['failed']} | "
                f"{_fmt(t['spread_median'])} |"
            )
        floor = table["oracle (fresh seeds)"]
        lines.append(
            f"| *noise floor: best rate, fresh seeds* | {protocol} | "
            f"{_fmt(floor['distance_median'])} | | | {_fmt(floor['regret_mean'], 3)} | | | | | |"
        )
        for name, value in lr_free(caches, setups, protocol).items():
            lines.append(f"| {name} (no rate) | {protocol} | | | | {_fmt(value, 3)} | | | | | |")
    return "\n".join(lines) + "\n"


def per_setup_md(caches: dict[str, Cache]) -> str:
    lines = [
        "| setup | split | optimizer | batch | steps | protocol | best rate | good range | L0 | "
        "L* | default's rates (3 seeds) | range test cost |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    shares = cost(caches)
    for s in SETUPS:
        for protocol in _runs().PROTOCOLS:
            orc = oracle(caches, s, protocol)
            rates = suggested_rates(caches, s, protocol)[lrfinder.DEFAULT_METHOD]
            shown = ", ".join("-" if r is None else f"{r:.2g}" for r in rates)
            lines.append(
                f"| {s.name} | {s.split} | {s.optimizer} | {s.batch_size} | {s.steps} | "
                f"{protocol} | {orc['best_lr']:.2g} | {orc['good_low']:.2g}..{orc['good_high']:.2g}"
                f" | {orc['l0']:.3f} | {orc['l_star']:.3f} | {shown} | {shares[s.name]:.2%} |"
            )
    return "\n".join(lines) + "\n"


def write_report(caches: dict[str, Cache]) -> str:
    run = _runs()
    dev = [s for s in SETUPS if s.split == "dev"]
    test = [s for s in SETUPS if s.split == "test"]
    parts = [
        table_md(caches, list(SETUPS), "All setups"),
        table_md(caches, test, "Held-out setups (the rule was not chosen on these)"),
        table_md(caches, dev, "Development setups (the rule was chosen on these)"),
        "### Per setup\n\n" + per_setup_md(caches),
    ]
    text = "\n".join(parts)
    (run.RESULTS / "tables.md").write_text(text)
    summary = {
        p: {k: v for k, v in summarize(caches, list(SETUPS), p).items()} for p in run.PROTOCOLS
    }
    (run.RESULTS / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(text)
    return text
