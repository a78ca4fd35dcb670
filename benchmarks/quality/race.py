"""tune_lr (the race) and two hyper-parameter searches at the same steps, on the quality setups.

Per setup, seed (``run.SEEDS``) and protocol (``run.PROTOCOLS``):

- the race variants (``VARIANTS``): ``lrfinder.torch.tune_lr`` on the setup's model, optimizer
  and batches for that seed (the batches ``train.train`` uses), ``total_steps = setup.steps``,
  ``for_schedule = protocol``, the setup's loss, scored on ``val_batches(setup)`` (a fixed subset
  of the validation data; ``VAL_SIZES`` names a variant scored on more), with a range test of
  ``train.RANGE_TEST_STEPS`` steps. The variants with ``val_data`` share one range test per seed
  (run once by ``lrfinder.torch.find_lr`` with the same arguments tune_lr would use, then passed
  as ``result=``, so its steps are still counted);
  ``race_noval`` runs its own inside tune_lr on the training batches left after the held-out ones.
- ``random``: log-uniform rates over 1e-6..10 (``numpy`` seeded with the benchmark seed), as many
  full-length trainings (the protocol over ``setup.steps``) as ``race_default``'s steps allow, the
  lowest held-out loss on the same validation subset wins.
- ``optuna``: TPE (seeded with the benchmark seed) with a successive-halving pruner over 1e-6..10
  (log); every trial trains the protocol over ``setup.steps`` and reports the held-out loss at the
  pruner's rungs (1/16 and 1/4 of the steps); the study stops once ``race_default``'s steps are spent
  (a trial still running then is cut off, its steps counted); the best complete trial wins.

Each race's TuneResult is cached (``TuneResult.to_dict``) in ``results/races/<setup>.json`` (the
shared range test once per seed, under ``rangetest|<seed>``), the searches' trials beside them.
The chosen rates are then trained by ``train.train`` into the runs cache and scored by
``report.score`` like every other finder's rate.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import train
from .setups import BY_NAME, Setup

if TYPE_CHECKING:
    from .run import Cache

TWO_ROUNDS: tuple[tuple[int | None, float], ...] = ((None, 0.25), (2, 1.0))
# name -> (rounds as (count or None for "all candidates", fraction), num, span, with val_data)
VARIANTS: dict[str, tuple[tuple[tuple[int | None, float], ...] | None, int, float, bool]] = {
    # tune_lr's defaults: at a constant rate, where the finalists go on, ((5, 0.2), (3, 0.4),
    # (2, 1.0)) (race_three_truncate's); for another schedule, truncated, ((5, 0.25), (2, 0.9))
    # (race_end09_truncate's; before, compressed, ((5, 0.25), (2, 1.0)), race_full's).
    "race_default": (None, 5, 1.0, True),
    "race_quick": (((None, 0.25),), 5, 1.0, True),
    "race_half": (((None, 0.25), (2, 0.5)), 5, 1.0, True),
    "race_full": (TWO_ROUNDS, 5, 1.0, True),  # the default before the middle round
    "race_noval": (None, 5, 1.0, False),
    "race_num7": (TWO_ROUNDS, 7, 1.0, True),
    "race_span1.5": (TWO_ROUNDS, 5, 1.5, True),
    "race_eighth": (((None, 0.125), (2, 1.0)), 5, 1.0, True),
    "race_val32": (TWO_ROUNDS, 5, 1.0, True),
    "race_truncate": (TWO_ROUNDS, 5, 1.0, True),
    "race_fifth_truncate": (((None, 0.2), (2, 1.0)), 5, 1.0, True),
    "race_eighth_truncate": (((None, 0.125), (2, 1.0)), 5, 1.0, True),
    "race_three_truncate": (((None, 0.2), (3, 0.4), (2, 1.0)), 5, 1.0, True),
    "race_three_sixth_truncate": (((None, 1 / 6), (3, 0.4), (2, 1.0)), 5, 1.0, True),
    "race_three_cheap_truncate": (((None, 0.15), (3, 0.35), (2, 1.0)), 5, 1.0, True),
    # Races that end before the whole budget: the finalists' order is settled before their last
    # steps, which with keep="initial" (the default) are trained only to compare them.
    "race_three_end09_truncate": (((None, 0.2), (3, 0.4), (2, 0.9)), 5, 1.0, True),
    "race_three_end08_truncate": (((None, 0.2), (3, 0.4), (2, 0.8)), 5, 1.0, True),
    "race_end09_truncate": (((None, 0.25), (2, 0.9)), 5, 1.0, True),
    "race_end07": (((None, 0.25), (2, 0.7)), 5, 1.0, True),
    # tune_lr's default adds up to two rates past an edge whose held-out loss has not turned in
    # round 1 (`widen`); this one adds one at most, and race_nowiden_truncate none.
    "race_widen1_truncate": (None, 5, 1.0, True),
    "race_nowiden_truncate": (None, 5, 1.0, True),
}
# tune_lr's other options, where a variant changes one: the *_truncate variants run the first
# steps of the real schedule in round 1 (instead of the whole schedule compressed), and their
# finalists go on from there; at a constant rate race_truncate is race_full.
# The others compress (tune_lr's default when they were added), but for the two that run
# tune_lr's defaults.
# The variants from before `widen` add no rates past an edge (as they were run), and
# race_widen1_truncate at most one.
OPTIONS: dict[str, dict[str, Any]] = {
    name: {
        "shorten": "truncate" if name.endswith("_truncate") else "compress",
        "widen": 1 if name == "race_widen1_truncate" else 0,
    }
    for name in VARIANTS
    if name not in ("race_default", "race_noval")
}
# The validation subset's size in batches, where a variant scores on more than VAL_BATCHES.
VAL_SIZES = {"race_val32": 32}
SEARCHES = ("random", "optuna")
ONE_SEED_GRID = "grid, one seed"  # the reference row: each seed's own full grid search
BUDGET_FROM = "race_default"  # the baselines get the steps this variant spent
VAL_BATCHES = 8  # the validation subset: up to 8 batches of the setup's batch size
SEARCH_LOW, SEARCH_HIGH = 1e-6, 10.0
PRUNER_RUNGS = 16  # optuna's first rung at steps / 16, then steps / 4 (reduction factor 4)
REDUCTION = 4
GRID_TRAININGS = 29 * 3  # a 3-seed grid: 29 rates x 3 seeds


def race_key(variant: str, protocol: str, seed: int) -> str:
    return f"{variant}|{protocol}|{seed}"


def val_batches(setup: Setup, count: int = VAL_BATCHES) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``count x batch_size`` validation examples (the validation split is already
    a random permutation), in batches of the setup's size; all of them where there are fewer."""
    data = setup.data()
    n = min(count * setup.batch_size, data.x_val.shape[0])
    b = setup.batch_size
    return [(data.x_val[i : i + b], data.y_val[i : i + b]) for i in range(0, n, b)]


# -- the race ---------------------------------------------------------------------------------
def _rounds(spec: tuple[tuple[int | None, float], ...] | None, n: int) -> Any:
    if spec is None:
        return None
    return [(n if c is None else min(c, n), f) for c, f in spec]


def run_races(
    setup: Setup, seed: int, protocol: str, variants: list[str], shared: dict[str, Any] | None
) -> dict[str, Any]:
    """The race ``variants`` for one setup, seed and protocol: cache key -> value. ``shared``:
    the seed's cached range test (run again where None)."""
    import lrfinder.torch
    from lrfinder import NoSuggestionError, RangeTestResult, TuneResult
    from lrfinder._tuning._candidates import _candidates

    loss_fn = setup.data().loss_fn
    batches = setup.batches(seed, setup.steps)
    val = val_batches(setup)
    out: dict[str, Any] = {}

    def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model = setup.build(seed)
        return model, setup.make_optimizer(model.parameters(), 1e-3)

    if shared is None:
        model, opt = fresh()
        test = lrfinder.torch.find_lr(
            model, opt, batches, loss_fn=loss_fn, num_steps=train.RANGE_TEST_STEPS, progress=False
        )
        out[f"rangetest|{seed}"] = test.to_dict()
    else:
        test = RangeTestResult.from_dict(shared)
    for name in variants:
        spec, num, span, with_val = VARIANTS[name]
        model, opt = fresh()
        try:
            if with_val:
                n = len(_candidates(test, protocol, num, span)[0])
                tuned: TuneResult = lrfinder.torch.tune_lr(
                    model, opt, batches, total_steps=setup.steps, loss_fn=loss_fn,
                    val_data=val_batches(setup, VAL_SIZES[name]) if name in VAL_SIZES else val,
                    val_batches=VAL_SIZES.get(name, VAL_BATCHES), for_schedule=protocol, result=test, num=num, span=span,
                    rounds=_rounds(spec, n), progress=False, **OPTIONS.get(name, {}),
                )  # fmt: skip
                value = tuned.to_dict()
                value["range_test"] = None  # stored once, under rangetest|<seed>
                value["settings"]["range_test_key"] = f"rangetest|{seed}"
            else:
                tuned = lrfinder.torch.tune_lr(
                    model, opt, batches, total_steps=setup.steps, loss_fn=loss_fn,
                    for_schedule=protocol, num=num, span=span, rounds=spec, progress=False,
                    num_steps=train.RANGE_TEST_STEPS,
                )  # fmt: skip
                value = tuned.to_dict()
            assert isinstance(tuned.range_test, RangeTestResult)
        except NoSuggestionError as exc:
            value = {"error": str(exc)}
        out[race_key(name, protocol, seed)] = value
    return out


def load_race(caches: dict[str, Cache], setup: Setup, key: str) -> Any:
    """The cached TuneResult (its range test attached again), or None where the race raised."""
    from lrfinder import RangeTestResult, TuneResult

    value = caches["races"].get(setup.name, key)
    if value is None or "error" in value:
        return None
    tuned = TuneResult.from_dict(value)
    ref = value["settings"].get("range_test_key")
    if ref is not None:
        shared = RangeTestResult.from_dict(caches["races"].get(setup.name, ref))
        tuned = dataclasses.replace(tuned, range_test=shared)
    return tuned


# -- the searches -----------------------------------------------------------------------------
class _OutOfSteps(Exception):
    pass


def _trial(
    setup: Setup,
    seed: int,
    protocol: str,
    lr: float,
    val: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    max_steps: int,
    checkpoints: tuple[int, ...] = (),
    report: Any = None,
) -> tuple[float, int]:
    """Train ``lr`` from the seed's initial model with the protocol over ``setup.steps`` (as the
    race's full-length trial does); the held-out loss (inf: diverged) and the steps trained.
    ``report(step, loss)`` is called at ``checkpoints``; it may raise to stop the trial. Raises
    ``_OutOfSteps`` (with the steps trained) after ``max_steps`` steps short of the end."""
    from lrfinder._tuning._trial import trial_schedule

    model = setup.build(seed)
    opt = setup.make_optimizer(model.parameters(), lr)
    schedule = trial_schedule(protocol, lr, setup.steps)
    loss_fn = setup.data().loss_fn
    model.train()
    for i, (x, y) in enumerate(setup.batches(seed, setup.steps)):
        if i == max_steps:
            raise _OutOfSteps(i)
        for group in opt.param_groups:
            group["lr"] = schedule(i)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        if not math.isfinite(loss.item()):
            return math.inf, i + 1
        loss.backward()
        opt.step()
        if i + 1 in checkpoints and report is not None:
            report(i + 1, _held_out(model, loss_fn, val))
            model.train()
    return _held_out(model, loss_fn, val), setup.steps


def _held_out(model: torch.nn.Module, loss_fn: Any, val: list[Any]) -> float:
    """The mean loss over the validation batches (eval(), no_grad), as the race scores a trial."""
    model.eval()
    with torch.no_grad():
        mean = float(np.mean([float(loss_fn(model(x), y)) for x, y in val]))
    return mean if math.isfinite(mean) else math.inf


def random_search(setup: Setup, seed: int, protocol: str, budget: int) -> dict[str, Any]:
    """``budget // setup.steps`` full-length trainings at log-uniform rates; the lowest held-out
    loss wins (the first of equals)."""
    rng = np.random.default_rng(seed)
    count = max(budget // setup.steps, 1)
    rates = [float(10 ** rng.uniform(math.log10(SEARCH_LOW), math.log10(SEARCH_HIGH)))
             for _ in range(count)]  # fmt: skip
    val = val_batches(setup)
    losses, spent = [], 0
    for lr in rates:
        loss, steps = _trial(setup, seed, protocol, lr, val, max_steps=setup.steps)
        losses.append(loss)
        spent += steps
    best = int(np.argmin(losses))
    return {
        "lr": rates[best] if math.isfinite(losses[best]) else None,
        "rates": rates,
        "losses": [v if math.isfinite(v) else "inf" for v in losses],
        "steps_spent": spent,
        "budget": budget,
    }


def optuna_search(setup: Setup, seed: int, protocol: str, budget: int) -> dict[str, Any]:
    """TPE with successive halving until ``budget`` steps are spent; the best complete trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    first = max(setup.steps // PRUNER_RUNGS, 1)
    checkpoints = tuple(sorted({first, first * REDUCTION} - {setup.steps}))
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=REDUCTION)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    val = val_batches(setup)
    state = {"spent": 0}
    trials: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", SEARCH_LOW, SEARCH_HIGH, log=True)
        row: dict[str, Any] = {"lr": lr, "values": {}}
        trials.append(row)

        def report(step: int, loss: float) -> None:
            value = loss if math.isfinite(loss) else 1e30
            row["values"][str(step)] = value
            trial.report(value, step)
            if trial.should_prune():
                row["steps"], row["state"] = step, "pruned"
                raise optuna.TrialPruned()

        try:
            loss, steps = _trial(
                setup, seed, protocol, lr, val,
                max_steps=budget - state["spent"], checkpoints=checkpoints, report=report,
            )  # fmt: skip
        except _OutOfSteps as exc:
            row["steps"], row["state"] = exc.args[0], "out of steps"
            state["spent"] += exc.args[0]
            raise optuna.TrialPruned() from None
        except optuna.TrialPruned:
            state["spent"] += row["steps"]
            raise
        state["spent"] += steps
        row["steps"], row["state"], row["loss"] = steps, "complete", loss
        return loss if math.isfinite(loss) else 1e30  # diverged: the worst

    while state["spent"] < budget:
        study.optimize(objective, n_trials=1)
    complete = [t for t in trials if t["state"] == "complete" and t["loss"] < math.inf]
    best = min(complete, key=lambda t: t["loss"]) if complete else None
    for t in trials:
        if "loss" in t and not math.isfinite(t["loss"]):
            t["loss"] = "inf"
    return {
        "lr": None if best is None else best["lr"],
        "trials": trials,
        "steps_spent": state["spent"],
        "budget": budget,
    }


def run_search(setup: Setup, seed: int, protocol: str, name: str, budget: int) -> Any:
    if name == "random":
        return random_search(setup, seed, protocol, budget)
    return optuna_search(setup, seed, protocol, budget)


# -- tasks ------------------------------------------------------------------------------------
def _stale(value: Any, shared: Any, protocol: str, name: str) -> bool:
    """Whether a cached race raced other candidates than today's code proposes, or shortened its
    trials otherwise than the variant does now (tune_lr's default may change)."""
    import inspect

    import lrfinder.torch
    from lrfinder import NoSuggestionError, RangeTestResult
    from lrfinder._tuning._candidates import _candidates, highest_swept
    from lrfinder._tuning._race import WIDEN, past_edge

    if value is None:
        return False
    defaults = inspect.signature(lrfinder.torch.tune_lr).parameters
    shorten = OPTIONS.get(name, {}).get("shorten", defaults["shorten"].default)
    widen = OPTIONS.get(name, {}).get("widen", defaults["widen"].default)
    _, num, span, with_val = VARIANTS[name]
    if widen is None:  # the candidates come from a range test; without val_data none are added
        widen = WIDEN if with_val else 0
    # Races cached before tune_lr had `shorten` compressed, and before `widen` added none.
    if "error" not in value and (
        value["settings"].get("shorten", "compress") != shorten
        or value["settings"].get("widen", 0) != widen
    ):
        return True
    test = shared if with_val else value.get("range_test")
    if test is None:
        return False
    test = RangeTestResult.from_dict(test)
    try:
        rates = list(_candidates(test, protocol, num, span)[0])
    except NoSuggestionError:
        return "error" not in value
    if "error" in value:
        return True
    # Today's candidates, and the rates today's rule adds past an edge, replayed on the cached
    # first round's losses.
    cached = np.array(value["rates"], dtype=float)
    first = [float(v) for v in value["rounds"][0]["losses"]]

    def loss(r: float) -> float | None:
        at = np.flatnonzero(np.isclose(cached, r, rtol=1e-9, atol=0.0))
        return first[int(at[0])] if at.size else None

    losses = [loss(r) for r in rates]
    for _ in range(widen):
        added = None if None in losses else past_edge(rates, losses, highest_swept(test))
        if added is None:
            break
        rates = sorted([*rates, added])
        losses = [loss(r) for r in rates]
    return None in losses or len(rates) != cached.size


def race_tasks(
    caches: dict[str, Cache], setups: list[Setup]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """One task per setup, seed and protocol: the variants not cached, or cached with other
    candidates than the code proposes now (those are dropped first, and said so)."""
    from .run import PROTOCOLS, SEEDS

    tasks = []
    for s in setups:
        for p in PROTOCOLS:
            for seed in SEEDS:
                shared = caches["races"].get(s.name, f"rangetest|{seed}")
                todo = []
                for name in VARIANTS:
                    key = race_key(name, p, seed)
                    if _stale(caches["races"].get(s.name, key), shared, p, name):
                        print(f"  stale: {s.name} {key} (its candidates or shortening changed)",
                              flush=True)  # fmt: skip
                        del caches["races"].data[s.name][key]
                    if not caches["races"].has(s.name, key):
                        todo.append(name)
                if todo:
                    args = {"seed": seed, "protocol": p, "variants": todo, "shared": shared}
                    tasks.append(("race", s.name, race_key(todo[0], p, seed), args))
    return tasks


def search_tasks(
    caches: dict[str, Cache], setups: list[Setup]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The searches, each at the steps ``BUDGET_FROM`` spent on its setup, seed and protocol."""
    from .run import PROTOCOLS, SEEDS

    tasks = []
    for s in setups:
        for p in PROTOCOLS:
            for seed in SEEDS:
                tuned = load_race(caches, s, race_key(BUDGET_FROM, p, seed))
                budget = (
                    tuned.steps_spent if tuned is not None else s.steps * 13 // 4 + 100
                )  # a race that raised: its nominal steps
                for name in SEARCHES:
                    key = race_key(name, p, seed)
                    cached = caches["races"].get(s.name, key)
                    if cached is not None and cached.get("budget") != budget:
                        print(f"  stale: {s.name} {key} (its budget changed)", flush=True)
                        del caches["races"].data[s.name][key]
                    args = {"protocol": p, "seed": seed, "name": name, "budget": budget}
                    tasks.append(("search", s.name, race_key(name, p, seed), args))
    return tasks


def execute(kind: str, setup_name: str, args: dict[str, Any]) -> dict[str, Any] | Any:
    setup = BY_NAME[setup_name]
    if kind == "race":
        return run_races(setup, args["seed"], args["protocol"], args["variants"], args["shared"])
    return run_search(setup, args["seed"], args["protocol"], args["name"], args["budget"])


def tuner_rates(
    caches: dict[str, Cache], setup: Setup, protocol: str
) -> dict[str, list[float | None]]:
    """Each race variant's and search's chosen rate per seed (None where it gave none), for the
    variants cached for every seed."""
    from .run import SEEDS

    out: dict[str, list[float | None]] = {}
    if "races" not in caches:
        return out
    for name in (*VARIANTS, *SEARCHES):
        keys = [race_key(name, protocol, seed) for seed in SEEDS]
        if not all(caches["races"].has(setup.name, k) for k in keys):
            continue
        values = [caches["races"].get(setup.name, k) for k in keys]
        out[name] = [None if v is None or "error" in v else v["lr"] for v in values]
    if out:
        from .report import oracle

        out[ONE_SEED_GRID] = grid_picks(oracle(caches, setup, protocol))
    return out


def tuner_cost(caches: dict[str, Cache], setup: Setup, protocol: str, name: str) -> list[float]:
    """Steps spent per seed / setup.steps: the trainings the rate cost (range test included)."""
    from .run import SEEDS

    out = []
    for seed in SEEDS:
        key = race_key(name, protocol, seed)
        if name in VARIANTS:
            tuned = load_race(caches, setup, key)
            if tuned is None:
                continue
            out.append(tuned.steps_spent / setup.steps)
        else:
            value = caches["races"].get(setup.name, key)
            out.append(value["steps_spent"] / setup.steps)
    return out


# -- tables -----------------------------------------------------------------------------------
# The targets, on all setups and on the race split, per protocol.
TARGETS = (
    ("in good range >= 85%", lambda t, o: t["in_good_range"] >= 0.85),
    ("regret mean <= 0.008", lambda t, o: t["regret_mean"] <= 0.008),
    ("distance to centre <= 0.15", lambda t, o: t["distance_centre_median"] <= 0.15),
    ("rank corr with centre >= 0.9", lambda t, o: t["rank_corr_centre"] >= 0.9),
    ("nothing diverged", lambda t, o: t["diverged"] == 0),
    ("cost <= 3 trainings", lambda t, o: t["cost_median"] <= 3.0),
    ("regret < Optuna's", lambda t, o: t["regret_mean"] < o["regret_mean"]),
)
# The races that end before the whole budget, shown beside the default in the ceiling table:
# the fixed rule's picks per protocol (constant; one-cycle) among them.
ENDING_EARLY = ("race_three_end09_truncate", "race_end09_truncate")
# The default without `widen`, also shown there.
WITHOUT_WIDEN = "race_nowiden_truncate"
# Every variant but the two that change the score, not the budget (without val_data; on 32
# validation batches).
BUDGETS = tuple(n for n in VARIANTS if n not in ("race_noval", "race_val32"))
# Choosing the default on dev: among the budgets whose median cost meets the target
# (MAX_COST trainings, range test included), the lowest mean regret (mean of the two
# protocols); a cheaper budget within TIE of it wins (an eighth of the 0.008 target: below what
# 7 setups resolve).
MAX_COST = 3.0
TIE = 0.001
DEFAULT_BUDGET = "race_default"  # tune_lr's default rounds


def _groups() -> list[tuple[str, list[Setup]]]:
    from .setups import SETUPS

    by = {k: [s for s in SETUPS if s.split == k] for k in ("dev", "test", "external", "fresh")}
    race = [s for s in SETUPS if s.split == "race"]
    return [
        ("all", list(SETUPS)),
        ("development (chosen on)", by["dev"]),
        ("held-out", by["test"]),
        ("external", by["external"]),
        ("fresh", by["fresh"]),
        ("race (unseen)", race),
        ("all but development", [s for s in SETUPS if s.split != "dev"]),
    ]


def _fall_cost(caches: dict[str, Cache], setup: Setup) -> list[float]:
    from .report import curves

    return [r.steps / setup.steps for r in curves(caches, setup)]


def method_table(
    caches: dict[str, Cache], setups: list[Setup], protocol: str
) -> dict[str, dict[str, float]]:
    """summarize's metrics for fall, the race variants, the searches and each seed's own grid
    search, with their median cost in trainings (every step spent choosing the rate /
    setup.steps)."""
    import lrfinder

    from .report import summarize

    table = summarize(caches, setups, protocol, tuners=True)
    out = {}
    for name in (lrfinder.DEFAULT_METHOD, *VARIANTS, *SEARCHES, ONE_SEED_GRID):
        if name not in table:
            continue
        costs = [c for s in setups for c in _costs(caches, s, protocol, name)]
        out[name] = {**table[name], "cost_median": float(np.median(costs))}
    return out


def _costs(caches: dict[str, Cache], setup: Setup, protocol: str, name: str) -> list[float]:
    """What a method's rate cost per seed, in trainings of ``setup.steps``."""
    import lrfinder

    from .run import GRID

    if name == lrfinder.DEFAULT_METHOD:
        return _fall_cost(caches, setup)
    if name == ONE_SEED_GRID:
        return [float(len(GRID))]
    return tuner_cost(caches, setup, protocol, name)


def grid_picks(orc: dict[str, Any]) -> list[float | None]:
    """Each finder seed's own grid search (every grid rate, trained with the race's seed): the
    grid rate of its lowest loss. Scored like every row, on the run trained at that rate with
    that seed, it is scored on the very loss it chose on (in-sample): see
    ``other_seeds_regret``."""
    from .run import GRID, SEEDS

    return [GRID[int(np.argmin(orc["per_seed"][:, k]))] for k in range(len(SEEDS))]


def other_seeds_regret(orc: dict[str, Any], rates: list[float | None]) -> list[float]:
    """Each seed's rate scored on the mean loss of the other oracle seeds at that rate, which
    no method chose on (interpolated on log10 rate between grid rates, which overstates an
    off-grid rate's loss where the curve bends up; exact on the grid). Regret 1 for no rate."""
    from .report import _clip
    from .run import GRID

    span = orc["l0"] - orc["l_star"]
    out = []
    for k, lr in enumerate(rates):
        if lr is None or not math.isfinite(lr):
            out.append(1.0)
            continue
        others = np.delete(orc["per_seed"], k, axis=1).mean(axis=1)
        loss = _clip(float(np.interp(math.log10(lr), np.log10(GRID), others)), orc["l0"])
        out.append((loss - orc["l_star"]) / span if span > 0 else 0.0)
    return out


def _best_lr_free(caches: dict[str, Cache], protocol: str) -> tuple[str, dict[str, float]] | None:
    from .report import lr_free
    from .setups import SETUPS

    found = lr_free(caches, list(SETUPS), protocol)
    if not found:
        return None
    name = min(found, key=lambda n: found[n]["median"])  # the mean is ruled by a few outliers
    return name, found[name]


def race_md(caches: dict[str, Cache]) -> str:
    """The race's tables: every group per protocol, the targets, the dev choice, per setup."""
    from .report import _fmt, lr_free
    from .run import PROTOCOLS

    lines = [
        "Costs are every training step spent choosing the rate (the range test included) over "
        f"the setup's steps, median over setups and seeds, and as a share of a 3-seed grid "
        f"({GRID_TRAININGS} trainings). `fall` is the range test alone; a race's last round "
        "already trained the winner for the whole budget (`keep='winner'`). The searches get "
        f"`{BUDGET_FROM}`'s steps on each setup, seed and protocol. The learning-rate-free "
        "optimizer shown is the one with the lowest median regret on all setups (it replaces the "
        "setup's optimizer, so it can beat `L*`, and no distance to the grid applies; its median "
        "regret is shown in brackets). `grid, one seed` is each seed's own search over the "
        "whole grid (see **The ceiling** below).",
        "",
    ]
    tables: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for label, setups in _groups():
        if not setups:
            continue
        lines += [
            f"### tune_lr: {label} ({len(setups)} setups, 3 seeds each)",
            "",
            "| method | protocol | distance median | distance to centre median | rank corr | "
            "rank corr with centre | regret mean | in good range | diverged or untrained | "
            "no answer | cost median (trainings) | share of 3-seed grid |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for protocol in PROTOCOLS:
            table = method_table(caches, setups, protocol)
            tables[label, protocol] = table
            for name, t in table.items():
                lines.append(
                    f"| {name} | {protocol} | {_fmt(t['distance_median'])} | "
                    f"{_fmt(t['distance_centre_median'])} | {_fmt(t['rank_corr'])} | "
                    f"{_fmt(t['rank_corr_centre'])} | {_fmt(t['regret_mean'], 4)} | "
                    f"{t['in_good_range']:.0%} | {t['diverged']} | {t['failed']} | "
                    f"{t['cost_median']:.2f} | {t['cost_median'] / GRID_TRAININGS:.1%} |"
                )
            best = _best_lr_free(caches, protocol)
            if best is not None:
                name = best[0]
                v = lr_free(caches, setups, protocol).get(name)
                if v is not None:
                    lines.append(
                        f"| *{name}* (learning-rate-free) | {protocol} | | | | | "
                        f"{_fmt(v['mean'], 4)} ({_fmt(v['median'], 4)}) | | {v['diverged']} | "
                        "| 0 | 0% |"
                    )
        lines.append("")
    lines += _targets_md(tables)
    lines += _ceiling_md(caches, tables)
    lines += _confidence_md(caches)
    lines += _choice_md(tables)
    lines += _per_setup_md(caches)
    return "\n".join(lines) + "\n"


def _targets_md(tables: dict[tuple[str, str], dict[str, dict[str, float]]]) -> list[str]:
    names = [n for n, _ in TARGETS]
    lines = [
        "### tune_lr against the issue's targets",
        "",
        "| variant | setups | protocol | " + " | ".join(names) + " | all |",
        "|---|---|---|" + "---|" * (len(names) + 1),
    ]
    for label in ("all", "race (unseen)"):
        for protocol in ("constant", "onecycle"):
            table = tables.get((label, protocol))
            if not table or "optuna" not in table:
                continue
            for name in (*BUDGETS, "race_noval", ONE_SEED_GRID):
                if name not in table:
                    continue
                marks = [ok(table[name], table["optuna"]) for _, ok in TARGETS]
                cells = ["pass" if m else "**fail**" for m in marks]
                lines.append(
                    f"| {name} | {label} | {protocol} | " + " | ".join(cells) + f" | "
                    f"{'pass' if all(marks) else '**fail**'} |"
                )
    return [*lines, ""]


def _ceiling_md(
    caches: dict[str, Cache], tables: dict[tuple[str, str], dict[str, dict[str, float]]]
) -> list[str]:
    """The default race beside each seed's own full grid search, also scored on the oracle
    seeds that neither chose on."""
    import lrfinder

    from .report import oracle, suggested_rates
    from .run import GRID, PROTOCOLS
    from .setups import SETUPS

    names = (
        lrfinder.DEFAULT_METHOD,
        DEFAULT_BUDGET,
        WITHOUT_WIDEN,
        *ENDING_EARLY,
        "optuna",
        ONE_SEED_GRID,
    )
    # Each method's regrets on the other seeds, per setup and protocol, read once for every group.
    others: dict[tuple[str, str], dict[str, list[float]]] = {}
    for s in SETUPS:
        for protocol in PROTOCOLS:
            orc = oracle(caches, s, protocol)
            rates = suggested_rates(caches, s, protocol, tuners=True)
            others[s.name, protocol] = {
                n: other_seeds_regret(orc, rates[n]) for n in names if n in rates
            }
    groups = dict(_groups())
    lines = [
        "### The ceiling: one seed's own grid search",
        "",
        f"`{ONE_SEED_GRID}` trains all {len(GRID)} grid rates with the race's seed and "
        f"keeps the lowest loss: an exhaustive search at {len(GRID)} trainings. The good range "
        "and its centre are the oracle's (the mean over its seeds), so this row shows how far "
        "one seed's noise alone puts the answer. Every row's regret is scored on the run "
        "trained at its rate with its seed, which for the grid is the loss it was chosen on; "
        "the last column scores every row on the other oracle seeds' mean instead, which no "
        "method chose on (interpolated between grid rates, which can only add to an off-grid "
        "rate's loss at a convex bottom). The two races that end before the whole budget "
        f"({', '.join(f'`{n}`' for n in ENDING_EARLY)}, and for one-cycle `{DEFAULT_BUDGET}` "
        f"and `{WITHOUT_WIDEN}`, which run the second's rounds) chose on the scored run's "
        "first nine tenths, not on its end.",
        "",
        "| method | setups | protocol | in good range | distance to centre median | regret "
        "mean | regret mean on the other seeds | cost median (trainings) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in ("all", "development (chosen on)", "all but development"):
        for protocol in PROTOCOLS:
            table = tables.get((label, protocol), {})
            for name in names:
                if name not in table:
                    continue
                t = table[name]
                regrets = [r for s in groups[label] for r in others[s.name, protocol][name]]
                lines.append(
                    f"| {name} | {label} | {protocol} | {t['in_good_range']:.0%} | "
                    f"{t['distance_centre_median']:.2f} | {t['regret_mean']:.4f} | "
                    f"{float(np.mean(regrets)):.4f} | {t['cost_median']:.2f} |"
                )
    return [*lines, ""]


def _confidence_md(caches: dict[str, Cache]) -> list[str]:
    """Whether the default race's confidence tells a good answer from a poor one, and how often
    its range holds the good range's centre."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from .run import PROTOCOLS
    from .setups import SETUPS

    lines = [
        f"### How far the race's confidence and range can be trusted (`{DEFAULT_BUDGET}`)",
        "",
        "Per race (setup and seed): its `confidence` (how clearly the winner beat the "
        "runner-up) against its regret and whether it landed in the good range. The rank "
        "correlation with regret should be negative and the AUC (the chance that a race in the "
        "good range had the higher confidence of a pair) above 0.5 for it to tell; two columns "
        "split the races at their median confidence. The last two read the race's range "
        "(`TuneResult.suggestion`'s `low..high`, the finalists' span): how often it holds the "
        "good range's centre, and how often it meets the good range (widened by an eighth of a "
        "decade, as the in-good-range test is).",
        "",
        "| setups | protocol | races | rank corr with regret | AUC for in good range | "
        "regret mean, lower / upper half | in good range, lower / upper half | range holds "
        "the centre | range meets the good range |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups = dict(_groups())
    races = {(s.name, p): _race_reading(caches, s, p) for s in SETUPS for p in PROTOCOLS}
    for label in ("development (chosen on)", "all but development", "all"):
        for protocol in PROTOCOLS:
            rows = [row for s in groups[label] for row in races[s.name, protocol]]
            if len(rows) < 4:
                continue
            conf, regret, good, holds, meets = (np.array(c) for c in zip(*rows, strict=True))
            upper = conf > np.median(conf)
            auc = roc_auc_score(good, conf) if 0 < good.sum() < good.size else math.nan
            lines.append(
                f"| {label} | {protocol} | {len(rows)} | "
                f"{spearmanr(conf, regret).statistic:+.2f} | {auc:.2f} | "
                f"{regret[~upper].mean():.4f} / {regret[upper].mean():.4f} | "
                f"{good[~upper].mean():.0%} / {good[upper].mean():.0%} | {holds.mean():.0%} | "
                f"{meets.mean():.0%} |"
            )
    return [*lines, ""]


def _race_reading(
    caches: dict[str, Cache], setup: Setup, protocol: str
) -> list[tuple[float, float, bool, bool, bool]]:
    """Per seed, the default race's confidence, regret, whether it landed in the good range,
    whether its range (``TuneResult.suggestion``'s) holds the good range's centre, and whether
    it meets the good range (widened by an eighth of a decade, as the in-good-range test is)."""
    from lrfinder import TuneResult

    from .report import oracle, score
    from .run import SEEDS

    scored = score(caches, setup, protocol, tuners=True).get(DEFAULT_BUDGET)
    if scored is None:
        return []
    orc = oracle(caches, setup, protocol)
    good_low = math.log10(orc["good_low"]) - 0.125
    good_high = math.log10(orc["good_high"]) + 0.125
    rows = []
    for k, seed in enumerate(SEEDS):
        cached = caches["races"].get(setup.name, race_key(DEFAULT_BUDGET, protocol, seed))
        if cached is None or "error" in cached:
            continue
        # The range needs no range test (the shared one is cached apart from the race).
        tuned = TuneResult.from_dict({**cached, "range_test": None})
        low, high = (math.log10(r) for r in (tuned.suggestion.low, tuned.suggestion.high))
        row = scored["rows"][k]
        rows.append(
            (
                tuned.confidence,
                row["regret"],
                row["good"],
                low <= orc["centre"] <= high,
                low <= good_high and high >= good_low,
            )
        )
    return rows


def _choice_md(tables: dict[tuple[str, str], dict[str, dict[str, float]]]) -> list[str]:
    label = "development (chosen on)"
    rows = []
    for name in BUDGETS:
        per = [tables[label, p][name] for p in ("constant", "onecycle") if name in tables[label, p]]
        if len(per) != 2:
            continue
        rows.append(
            (
                name,
                float(np.mean([t["regret_mean"] for t in per])),
                float(np.mean([t["cost_median"] for t in per])),
                per,
            )
        )
    if not rows:
        return []
    affordable = [r for r in rows if r[2] <= MAX_COST] or rows
    lowest = min(r[1] for r in affordable)
    pick = min((r for r in affordable if r[1] <= lowest + TIE), key=lambda r: (r[2], r[1]))
    lines = [
        "### Choosing tune_lr's default budget on the development split",
        "",
        "Rule, fixed before reading these: among the variants whose median cost on the "
        f"development setups meets the target of {MAX_COST:g} trainings (range test included), "
        "the lowest mean regret on them (mean of the two protocols); a cheaper variant within "
        f"{TIE} of it wins (cost breaks ties). The other splits are held out.",
        "",
        "| variant | regret mean (constant) | regret mean (onecycle) | mean of both | "
        "in good range (c / o) | cost median (trainings) |",
        "|---|---|---|---|---|---|",
    ]
    for name, regret, cost, per in rows:
        mark = f"**{name}** (chosen)" if name == pick[0] else name
        lines.append(
            f"| {mark} | {per[0]['regret_mean']:.4f} | {per[1]['regret_mean']:.4f} | "
            f"{regret:.4f} | {per[0]['in_good_range']:.0%} / {per[1]['in_good_range']:.0%} | "
            f"{cost:.2f} |"
        )
    lines += ["", f"Chosen on development: `{pick[0]}`."]
    if pick[0] != DEFAULT_BUDGET:
        lines.append(
            f"tune_lr's default is `{DEFAULT_BUDGET}` instead: see **The default rounds** in the "
            "notes at the head of this section for why (a choice made after reading the "
            "held-out splits, so they are not held out for it)."
        )
    return [*lines, ""]


def _per_setup_md(caches: dict[str, Cache]) -> list[str]:
    from .report import oracle, score
    from .run import PROTOCOLS
    from .setups import SETUPS

    lines = [
        f"### tune_lr per setup (`{BUDGET_FROM}` against Optuna at its steps)",
        "",
        f"| setup | split | protocol | best rate | good range | {BUDGET_FROM}'s rates (3 seeds) | "
        f"its regret | optuna's rates | its regret | {BUDGET_FROM}'s cost (trainings) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in SETUPS:
        for protocol in PROTOCOLS:
            sc = score(caches, s, protocol, tuners=True)
            if BUDGET_FROM not in sc or "optuna" not in sc:
                continue
            orc = oracle(caches, s, protocol)

            def show(name: str, sc: dict[str, Any] = sc) -> tuple[str, float]:
                rates = ", ".join("-" if r is None else f"{r:.2g}" for r in sc[name]["rates"])
                return rates, float(np.mean([r["regret"] for r in sc[name]["rows"]]))

            race_rates, race_regret = show(BUDGET_FROM)
            opt_rates, opt_regret = show("optuna")
            costs = tuner_cost(caches, s, protocol, BUDGET_FROM)
            lines.append(
                f"| {s.name} | {s.split} | {protocol} | {orc['best_lr']:.2g} | "
                f"{orc['good_low']:.2g}..{orc['good_high']:.2g} | {race_rates} | "
                f"{race_regret:.3f} | {opt_rates} | {opt_regret:.3f} | "
                f"{np.median(costs) if costs else math.nan:.2f} |"
            )
    return [*lines, ""]
