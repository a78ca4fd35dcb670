"""The metrics and tables of the quality benchmark, computed from the cache alone."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import lrfinder
from lrfinder import NoSuggestionError, RangeTestResult

from .setups import NO_TUNING_LR, SETUPS, Setup

if TYPE_CHECKING:
    from .run import Cache

GOOD_WITHIN = 0.10  # the oracle's good range: rates whose loss is within 10% of the best
# The oracle's seeds when not run.ORACLE_SEEDS: set by `oracle_seeds` to show the 3- and 5-seed
# oracles.
_SEEDS_OVERRIDE: tuple[int, ...] | None = None


def _runs() -> Any:
    from . import run

    return run


@contextlib.contextmanager
def oracle_seeds(seeds: tuple[int, ...]) -> Iterator[None]:
    """Compute everything inside with the oracle on ``seeds`` (e.g. the first 3 of
    ``run.ORACLE_SEEDS``, the issue's oracle, beside the default 10)."""
    global _SEEDS_OVERRIDE
    previous, _SEEDS_OVERRIDE = _SEEDS_OVERRIDE, seeds
    try:
        yield
    finally:
        _SEEDS_OVERRIDE = previous


def oracle_seed_list(caches: dict[str, Cache], setup: Setup, protocol: str) -> tuple[int, ...]:
    """The oracle's seeds for this setup: ``run.ORACLE_SEEDS`` (or the override), less the
    trailing ones whose grid is not fully cached (a setup not raised to 10 seeds yet)."""
    run = _runs()
    seeds = _SEEDS_OVERRIDE or run.ORACLE_SEEDS
    complete = [
        all(caches["runs"].has(setup.name, run.run_key(protocol, lr, s)) for lr in run.GRID)
        for s in seeds
    ]
    return seeds[: complete.index(False)] if False in complete else seeds


def oracle(caches: dict[str, Cache], setup: Setup, protocol: str) -> dict[str, Any]:
    """The grid search: mean final validation loss per rate over the oracle's seeds, its best
    rate. ``L0`` stays the mean over the finders' seeds (``run.SEEDS``)."""
    run = _runs()
    runs = caches["runs"]
    l0 = float(np.mean([runs.get(setup.name, f"L0|{s}") for s in run.SEEDS]))
    seeds = oracle_seed_list(caches, setup, protocol)
    per_seed = np.array(
        [
            [_clip(runs.get(setup.name, run.run_key(protocol, lr, s)), l0) for s in seeds]
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
        "centre": good_centre(mean),
    }


def good_centre(mean: np.ndarray) -> float:
    """log10 of the good range's centre: halfway (in decades) between the lowest and highest
    grid rates whose mean loss is within 10% of the best.

    The second definition of "the grid's best rate" (BENCHMARKS.md): the argmin of a loss that
    is flat across neighbouring rates jumps between them with the seeds, the good range's centre
    hardly moves."""
    grid = np.log10(_runs().GRID)
    good = np.flatnonzero(mean <= float(np.min(mean)) + GOOD_WITHIN * abs(float(np.min(mean))))
    return float(grid[good.min()] + grid[good.max()]) / 2


def _clip(loss: float | None, l0: float) -> float:
    """A diverged run (NaN, or no better than untrained) counts as the untrained loss."""
    return l0 if loss is None or not math.isfinite(loss) or loss > l0 else float(loss)


def curves(caches: dict[str, Cache], setup: Setup) -> list[RangeTestResult]:
    run = _runs()
    return [
        RangeTestResult.from_dict(caches["curves"].get(setup.name, f"lrfinder|{s}"))
        for s in run.SEEDS
    ]


def repeated_curves(caches: dict[str, Cache], setup: Setup, seed: int) -> list[RangeTestResult]:
    """The seed's ``REPEATS`` sweeps (same initial weights, batches in other orders), or [] when
    they are not all cached."""
    run = _runs()
    keys = [run.repeat_key(seed, k) for k in range(run.REPEATS)]
    if not all(caches["curves"].has(setup.name, k) for k in keys):
        return []
    return [RangeTestResult.from_dict(caches["curves"].get(setup.name, k)) for k in keys]


def repeated_name() -> str:
    """The row of the default rule read from repeated sweeps (median rate), e.g. ``fall x3``."""
    return f"{lrfinder.DEFAULT_METHOD} x{_runs().REPEATS}"


def _rule_rate(
    result: RangeTestResult | list[RangeTestResult], method: str, protocol: str
) -> float | None:
    options = {"for_schedule": protocol} if method == lrfinder.DEFAULT_METHOD else {}
    try:
        return lrfinder.suggest(result, method, **options).lr
    except NoSuggestionError:
        return None


def suggested_rates(
    caches: dict[str, Cache], setup: Setup, protocol: str, *, tuners: bool = False
) -> dict[str, list[float | None]]:
    """Each method's rate per seed (None where it gave none); with ``tuners``, also the race
    variants' and the searches' (race.py), where cached."""
    run = _runs()
    out: dict[str, list[float | None]] = {}
    results = curves(caches, setup)
    for name in lrfinder.methods():
        out[name] = [_rule_rate(r, name, protocol) for r in results]
    repeated = [repeated_curves(caches, setup, s) for s in run.SEEDS]
    if all(repeated):
        out[repeated_name()] = [
            _rule_rate(rs, lrfinder.DEFAULT_METHOD, protocol) for rs in repeated
        ]
    for finder in ("torch_lr_finder", "lightning"):
        values = [caches["curves"].get(setup.name, f"{finder}|{s}") for s in run.SEEDS]
        if all(caches["curves"].has(setup.name, f"{finder}|{s}") for s in run.SEEDS):
            out[finder] = values
    out["no_tuning"] = [NO_TUNING_LR[setup.optimizer]] * len(run.SEEDS)
    if tuners:
        from .race import tuner_rates

        out.update(tuner_rates(caches, setup, protocol))
    return out


def interpolated_loss(orc: dict[str, Any], lr: float) -> float:
    """The oracle's mean loss at ``lr``, interpolated on log10(rate) (for designing the rule)."""
    run = _runs()
    return float(np.interp(math.log10(lr), np.log10(run.GRID), orc["mean"]))


def rate_row(orc: dict[str, Any], lr: float, loss: float | None) -> dict[str, Any]:
    """How a rate did against the oracle: its distances (decades) to the best rate and to the
    good range's centre, its regret at ``loss`` (a diverged run counts as untrained), whether
    it is in the good range (widened by half a grid step) and whether it diverged."""
    l0, l_star = orc["l0"], orc["l_star"]
    loss = _clip(loss, l0)
    return {
        "distance": abs(math.log10(lr) - math.log10(orc["best_lr"])),
        "distance_centre": abs(math.log10(lr) - orc["centre"]),
        "regret": (loss - l_star) / (l0 - l_star) if l0 > l_star else 0.0,
        "good": orc["good_low"] * 10**-0.125 <= lr <= orc["good_high"] * 10**0.125,
        "diverged": loss >= l0,
    }


def score(
    caches: dict[str, Cache],
    setup: Setup,
    protocol: str,
    *,
    trained: bool = True,
    tuners: bool = False,
) -> dict[str, dict[str, Any]]:
    """Per method: distance (decades), regret, in-good-range, diverged, per seed; and spread."""
    run = _runs()
    orc = oracle(caches, setup, protocol)
    out: dict[str, dict[str, Any]] = {}
    for name, rates in suggested_rates(caches, setup, protocol, tuners=tuners).items():
        rows = []
        for seed, lr in zip(run.SEEDS, rates, strict=True):
            if lr is None or not math.isfinite(lr):
                rows.append(
                    {
                        "distance": math.inf,
                        "distance_centre": math.inf,
                        "regret": 1.0,
                        "good": False,
                        "diverged": True,
                    }
                )
                continue
            raw = caches["runs"].get(setup.name, run.run_key(protocol, lr, seed))
            if (
                trained
                and raw is None
                and not caches["runs"].has(setup.name, run.run_key(protocol, lr, seed))
            ):
                raw = interpolated_loss(orc, lr)  # not trained yet: read the grid
            rows.append(rate_row(orc, lr, raw if trained else interpolated_loss(orc, lr)))
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
    seed_centre = [good_centre(column) for column in orc["per_seed"].T]
    return {
        "regret": max(regret, 0.0),
        "distance": distance,
        "distance_centre": float(np.median(np.abs(np.array(seed_centre) - orc["centre"]))),
    }


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan  # a rule that suggests one rate everywhere has no rank correlation
    return float(spearmanr(a, b).statistic)


def default_range(caches: dict[str, Cache], protocol: str) -> dict[str, float]:
    """How often the default's (low, high) holds the best rate, its width, and whether its
    confidence ranks its own accuracy (Spearman of confidence against -distance)."""
    inside, widths, conf, dist = [], [], [], []
    for s in SETUPS:
        best = oracle(caches, s, protocol)["best_lr"]
        for r in curves(caches, s):
            try:
                sug = lrfinder.suggest(r, for_schedule=protocol)
            except NoSuggestionError:
                continue
            inside.append(sug.low <= best <= sug.high)
            widths.append(math.log10(sug.high / sug.low))
            conf.append(sug.confidence or 0.0)
            dist.append(-abs(math.log10(sug.lr / best)))
    return {
        "sweeps": len(inside),
        "inside": float(np.mean(inside)),
        "width": float(np.median(widths)),
        "confidence_rank": _spearman(conf, dist),
    }


def summarize(
    caches: dict[str, Cache],
    setups: list[Setup],
    protocol: str,
    *,
    trained: bool = True,
    tuners: bool = False,
) -> dict[str, dict[str, float]]:
    """The across-setup metrics of every method for one protocol (with ``tuners``, also the
    race variants' and the searches')."""
    scores = {s.name: score(caches, s, protocol, trained=trained, tuners=tuners) for s in setups}
    best = {s.name: math.log10(oracle(caches, s, protocol)["best_lr"]) for s in setups}
    centre = {s.name: oracle(caches, s, protocol)["centre"] for s in setups}
    table: dict[str, dict[str, float]] = {}
    for name in scores[setups[0].name]:
        rows = [r for s in setups for r in scores[s.name].get(name, {"rows": []})["rows"]]
        if len(rows) < len(setups) * 3:
            continue
        dist = np.array([r["distance"] for r in rows])
        regret = np.array([r["regret"] for r in rows])
        medians, targets, centres = [], [], []
        for s in setups:
            rates = [r for r in scores[s.name][name]["rates"] if r is not None and math.isfinite(r)]
            if rates:
                medians.append(float(np.median(np.log10(rates))))
                targets.append(best[s.name])
                centres.append(centre[s.name])
        table[name] = {
            "distance_median": float(np.median(dist)),
            "distance_p90": float(np.percentile(dist, 90, method="higher")),
            "regret_mean": float(regret.mean()),
            "regret_median": float(np.median(regret)),
            "regret_p90": float(np.percentile(regret, 90, method="higher")),
            "in_good_range": float(np.mean([r["good"] for r in rows])),
            "diverged": int(sum(r["diverged"] for r in rows)),
            "failed": int(sum(math.isinf(r["distance"]) for r in rows)),
            "rank_corr": _spearman(medians, targets),
            "distance_centre_median": float(np.median([r["distance_centre"] for r in rows])),
            "rank_corr_centre": _spearman(medians, centres),
            "spread_median": float(np.median([scores[s.name][name]["spread"] for s in setups])),
        }
    floor = [noise_floor(caches, s, protocol) for s in setups]
    run = _runs()
    n_seeds = min(oracle(caches, s, protocol)["per_seed"].shape[1] for s in setups)
    seed_corr = [
        _spearman(
            [
                run.GRID[int(np.argmin(oracle(caches, s, protocol)["per_seed"][:, k]))]
                for s in setups
            ],
            [oracle(caches, s, protocol)["best_lr"] for s in setups],
        )
        for k in range(n_seeds)
    ]
    centre_corr = [
        _spearman(
            [good_centre(oracle(caches, s, protocol)["per_seed"][:, k]) for s in setups],
            [centre[s.name] for s in setups],
        )
        for k in range(n_seeds)
    ]
    table["oracle (fresh seeds)"] = {
        "distance_median": float(np.median([f["distance"] for f in floor])),
        "regret_mean": float(np.mean([f["regret"] for f in floor])),
        "rank_corr": float(np.mean(seed_corr)),
        "distance_centre_median": float(np.median([f["distance_centre"] for f in floor])),
        "rank_corr_centre": float(np.mean(centre_corr)),
    }
    return table


def lr_free(
    caches: dict[str, Cache], setups: list[Setup], protocol: str
) -> dict[str, dict[str, float]]:
    """Normalized regret of each learning-rate-free optimizer against the protocol's L*.

    These replace the setup's optimizer, so they can beat ``L*`` (negative regret), by far where
    the setup's own optimizer barely trains (plain SGD on the deep MLP); the median is the fair
    summary, the mean is shown too."""
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
            out[name] = {
                "mean": float(np.mean(regrets)),
                "median": float(np.median(regrets)),
                "diverged": int(sum(r >= 1.0 for r in regrets)),
            }
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
    n = len(_runs().ORACLE_SEEDS)
    lines = [f"### {title} ({len(setups)} setups, 3 seeds each; oracle: {n} seeds per rate)", ""]
    lines.append(
        "| method | protocol | distance median | distance p90 | rank corr | distance to centre "
        "median | rank corr with centre | regret mean | regret p90 | in good range | diverged or "
        "untrained | no answer | spread median |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
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
                f"{_fmt(t['distance_centre_median'])} | {_fmt(t['rank_corr_centre'])} | "
                f"{_fmt(t['regret_mean'], 3)} | {_fmt(t['regret_p90'], 3)} | "
                f"{t['in_good_range']:.0%} | {t['diverged']} | {t['failed']} | "
                f"{_fmt(t['spread_median'])} |"
            )
        floor = table["oracle (fresh seeds)"]
        lines.append(
            f"| *noise floor: the oracle itself* | {protocol} | "
            f"{_fmt(floor['distance_median'])} | | {_fmt(floor['rank_corr'])} | "
            f"{_fmt(floor['distance_centre_median'])} | {_fmt(floor['rank_corr_centre'])} | "
            f"{_fmt(floor['regret_mean'], 3)} | | | | | |"
        )
    lines += [
        "",
        "Learning-rate-free optimizers (they replace the setup's optimizer, so they can beat "
        "`L*`: regret below 0):",
        "",
        "| optimizer | protocol compared | regret median | regret mean | diverged |",
        "|---|---|---|---|---|",
    ]
    for protocol in _runs().PROTOCOLS:
        for name, v in lr_free(caches, setups, protocol).items():
            lines.append(
                f"| {name} | {protocol} | {_fmt(v['median'], 3)} | {_fmt(v['mean'], 3)} | "
                f"{v['diverged']} |"
            )
    return "\n".join(lines) + "\n"


def per_setup_md(caches: dict[str, Cache]) -> str:
    lines = [
        "| setup | split | optimizer | batch | steps | protocol | best rate | good range (grid) | L0 | "
        "L* | default's rates (3 seeds) | its distance | its regret | range test cost |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    shares = cost(caches)
    for s in SETUPS:
        for protocol in _runs().PROTOCOLS:
            orc = oracle(caches, s, protocol)
            rates = suggested_rates(caches, s, protocol)[lrfinder.DEFAULT_METHOD]
            shown = ", ".join("-" if r is None else f"{r:.2g}" for r in rates)
            rows = score(caches, s, protocol)[lrfinder.DEFAULT_METHOD]["rows"]
            dist = float(np.median([r["distance"] for r in rows]))
            regret = float(np.mean([r["regret"] for r in rows]))
            lines.append(
                f"| {s.name} | {s.split} | {s.optimizer} | {s.batch_size} | {s.steps} | "
                f"{protocol} | {orc['best_lr']:.2g} | {orc['good_low']:.2g}..{orc['good_high']:.2g}"
                f" | {orc['l0']:.3f} | {orc['l_star']:.3f} | {shown} | {dist:.2f} | {regret:.3f} | "
                f"{shares[s.name]:.2%} |"
            )
    return "\n".join(lines) + "\n"


def _groups() -> list[tuple[str, list[Setup], str]]:
    """The setup groups the tables show: short label, setups, table title."""
    dev = [s for s in SETUPS if s.split == "dev"]
    test = [s for s in SETUPS if s.split == "test"]
    external = [s for s in SETUPS if s.split == "external"]
    fresh = [s for s in SETUPS if s.split == "fresh"]
    race = [s for s in SETUPS if s.split == "race"]
    return [
        ("all", list(SETUPS), "All setups"),
        (
            "benchmark (dev + held-out)",
            dev + test,
            "The benchmark's setups (development + held-out)",
        ),
        ("held-out", test, "Held-out setups (the rule was not chosen on these)"),
        ("development", dev, "Development setups (the rule was chosen on these)"),
        (
            "external",
            external,
            "External setups (added after the rule was first chosen; see below)",
        ),
        (
            "fresh",
            fresh,
            "Fresh setups (added after the rule's last change, never used to choose it)",
        ),
        (
            "race",
            race,
            "Race setups (added before tune_lr was ever run: the race's unseen check)",
        ),
    ]


def split_half(caches: dict[str, Cache], setups: list[Setup], protocol: str) -> dict[str, float]:
    """How well the oracle reproduces itself: its best rate (and good range's centre) on the
    first half of its seeds against the second half, as a rank correlation across setups and a
    median distance. No rule can be measured to a rank correlation much above this."""
    run = _runs()
    half = len(run.ORACLE_SEEDS) // 2
    picks: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    for part, seeds in enumerate((run.ORACLE_SEEDS[:half], run.ORACLE_SEEDS[half:])):
        with oracle_seeds(seeds):
            for s in setups:
                orc = oracle(caches, s, protocol)
                picks[part].append((math.log10(orc["best_lr"]), orc["centre"]))
    a, b = np.array(picks[0]), np.array(picks[1])
    return {
        "rank_corr": _spearman(list(a[:, 0]), list(b[:, 0])),
        "distance": float(np.median(np.abs(a[:, 0] - b[:, 0]))),
        "rank_corr_centre": _spearman(list(a[:, 1]), list(b[:, 1])),
        "distance_centre": float(np.median(np.abs(a[:, 1] - b[:, 1]))),
    }


def _best_other(table: dict[str, dict[str, float]]) -> str:
    """The finder other than lrfinder's default (and its repeats) with the lowest mean regret."""
    own = {lrfinder.DEFAULT_METHOD, repeated_name(), "oracle (fresh seeds)"}
    return min((m for m in table if m not in own), key=lambda m: table[m]["regret_mean"])


def _headline(
    scores: dict[str, dict[str, dict[str, Any]]],
    best: dict[str, float],
    other: str,
    names: list[str],
) -> tuple[float, float, float, float]:
    """The default's rank correlation, median distance, mean regret and regret ratio to
    ``other`` over the setups ``names`` (repeats allowed: a bootstrap resample). A seed with no
    answer counts in the distance and regret (as ``summarize`` counts it) and is left out of the
    setup's median rate, as in ``summarize``'s rank correlation."""
    default = lrfinder.DEFAULT_METHOD
    rows = [r for n in names for r in scores[n][default]["rows"]]
    medians, targets = [], []
    for n in names:
        rates = [r for r in scores[n][default]["rates"] if r is not None and math.isfinite(r)]
        if rates:
            medians.append(float(np.median(np.log10(rates))))
            targets.append(best[n])
    ours = float(np.mean([r["regret"] for r in rows]))
    theirs = float(np.mean([r["regret"] for n in names for r in scores[n][other]["rows"]]))
    return (
        _spearman(medians, targets),
        float(np.median([r["distance"] for r in rows])),
        ours,
        ours / theirs if theirs > 0 else math.nan,
    )


def bootstrap_md(caches: dict[str, Cache], resamples: int = 2000) -> str:
    """The default's headline numbers with 90% intervals from resampling the setups: how
    precisely a suite of this size measures the issue's targets."""
    run = _runs()
    default = lrfinder.DEFAULT_METHOD
    rng = np.random.default_rng(0)
    lines = [
        f"### How precisely the setups measure the targets (`{default}`, 90% intervals)",
        "",
        f"Each interval comes from {resamples} resamples of the setups (with replacement), "
        "the seeds of a setup kept together; the ratio is against the finder with the lowest "
        "mean regret on the whole group.",
        "",
        "| setups | protocol | rank corr | distance median | regret mean | best other finder |"
        " regret ratio |",
        "|---|---|---|---|---|---|---|",
    ]

    def interval(values: list[float], point: float, digits: int = 2) -> str:
        low, high = np.nanpercentile(values, [5, 95])
        return f"{_fmt(point, digits)} ({_fmt(low, digits)}..{_fmt(high, digits)})"

    for label, setups, _ in _groups():
        for protocol in run.PROTOCOLS:
            scores = {s.name: score(caches, s, protocol) for s in setups}
            other = _best_other(summarize(caches, setups, protocol))
            best = {s.name: math.log10(oracle(caches, s, protocol)["best_lr"]) for s in setups}
            names = [s.name for s in setups]
            point = _headline(scores, best, other, names)
            draws = [
                _headline(scores, best, other, list(rng.choice(names, size=len(names))))
                for _ in range(resamples)
            ]
            cols = list(zip(*draws, strict=True))
            lines.append(
                f"| {label} ({len(setups)}) | {protocol} | {interval(list(cols[0]), point[0])} | "
                f"{interval(list(cols[1]), point[1])} | {interval(list(cols[2]), point[2], 3)} | "
                f"{other} | {interval(list(cols[3]), point[3])} |"
            )
    return "\n".join(lines) + "\n"


def oracle_seeds_md(caches: dict[str, Cache]) -> str:
    """The default's headline numbers under the 3-seed oracle (the issue's), the 5-seed one and
    the full one, and the oracle's own reproducibility (one half of its seeds against the other)."""
    run = _runs()
    default = lrfinder.DEFAULT_METHOD
    n = len(run.ORACLE_SEEDS)
    half = n // 2
    lines = [
        f"### Oracle with 3, 5 and {n} seeds per rate (`{default}`)",
        "",
        "| setups | protocol | oracle seeds | distance median | rank corr | rank corr with centre"
        " | regret mean | best other finder's regret mean | ratio | noise floor: one seed's rank "
        "corr | noise floor: one seed's rank corr with centre | noise floor: fresh seeds' regret |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    variants = {3: run.ORACLE_SEEDS[:3], 5: run.ORACLE_SEEDS[:5], n: run.ORACLE_SEEDS}
    best_lr: dict[tuple[int, str, str], float] = {}
    for label, setups, _ in _groups():
        for protocol in run.PROTOCOLS:
            for k, seeds in variants.items():
                with oracle_seeds(seeds):
                    table = summarize(caches, setups, protocol)
                    for s in setups:
                        best_lr[k, s.name, protocol] = oracle(caches, s, protocol)["best_lr"]
                t, floor = table[default], table["oracle (fresh seeds)"]
                other = _best_other(table)
                ratio = t["regret_mean"] / table[other]["regret_mean"]
                lines.append(
                    f"| {label} ({len(setups)}) | {protocol} | {k} | {_fmt(t['distance_median'])} "
                    f"| {_fmt(t['rank_corr'])} | {_fmt(t['rank_corr_centre'])} | "
                    f"{_fmt(t['regret_mean'], 3)} | {other} {_fmt(table[other]['regret_mean'], 3)}"
                    f" | {_fmt(ratio)} | {_fmt(floor['rank_corr'])} | "
                    f"{_fmt(floor['rank_corr_centre'])} | {_fmt(floor['regret_mean'], 3)} |"
                )
    lines += [
        "",
        f"The oracle against itself: its best rate on seeds {run.ORACLE_SEEDS[0]}-"
        f"{run.ORACLE_SEEDS[half - 1]} against seeds {run.ORACLE_SEEDS[half]}-"
        f"{run.ORACLE_SEEDS[-1]} ({half} each).",
        "",
        "| setups | protocol | rank corr | distance median | rank corr of the centre | "
        "distance of the centre median |",
        "|---|---|---|---|---|---|",
    ]
    for label, setups, _ in _groups():
        for protocol in run.PROTOCOLS:
            h = split_half(caches, setups, protocol)
            lines.append(
                f"| {label} ({len(setups)}) | {protocol} | {_fmt(h['rank_corr'])} | "
                f"{_fmt(h['distance'])} | {_fmt(h['rank_corr_centre'])} | "
                f"{_fmt(h['distance_centre'])} |"
            )
    lines.append("")
    for protocol in run.PROTOCOLS:
        for label, setups, _ in _groups()[:2]:
            old = [math.log10(best_lr[3, s.name, protocol]) for s in setups]
            new = [math.log10(best_lr[n, s.name, protocol]) for s in setups]
            moved = [abs(a - b) for a, b in zip(old, new, strict=True) if a != b]
            lines.append(
                f"- {protocol}, {label} ({len(setups)} setups): the {n}-seed best rate differs "
                f"from the 3-seed one on {len(moved)} setup(s) (by {_fmt(max(moved, default=0))} "
                f"decades at most); rank correlation of the two {_fmt(_spearman(old, new))}."
            )
    return "\n".join(lines) + "\n"


def write_report(caches: dict[str, Cache]) -> str:
    run = _runs()
    parts = [table_md(caches, setups, title) for _, setups, title in _groups()]
    parts += ["### Per setup\n\n" + per_setup_md(caches), oracle_seeds_md(caches)]
    parts.append(bootstrap_md(caches))
    for protocol in run.PROTOCOLS:
        d = default_range(caches, protocol)
        parts.append(
            f"Default's range ({protocol}): holds the best rate in {d['inside']:.0%} of the "
            f"{d['sweeps']} sweeps, median width {d['width']:.2f} decades; its confidence ranks its own "
            f"accuracy with Spearman {d['confidence_rank']:.2f}.\n"
        )
    shares = list(cost(caches).values())
    parts.append(
        f"Range-test cost: {np.median(shares):.2%} of a 3-seed grid search's training steps "
        f"(median over setups; max {max(shares):.2%}).\n"
    )
    text = "\n".join(parts)
    fill_section("quality", text)
    if "races" in caches:
        from .race import race_md

        race_text = race_md(caches)
        fill_section("race", race_text)
        text += "\n## tune_lr: the race against random search and Optuna\n\n" + race_text
    (run.RESULTS / "tables.md").write_text(text)
    summary = {
        p: {k: v for k, v in summarize(caches, list(SETUPS), p).items()} for p in run.PROTOCOLS
    }
    (run.RESULTS / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(text)
    return text


BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def fill_section(name: str, text: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in
    BENCHMARKS.md, so the prose stays hand-written and the tables stay generated."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if not BENCHMARKS_MD.exists():
        return
    doc = BENCHMARKS_MD.read_text()
    if begin not in doc or end not in doc:
        return
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    BENCHMARKS_MD.write_text(f"{head}{begin}\n{text}{end}{tail}")
