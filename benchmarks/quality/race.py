"""tune_lr (the race) and two hyper-parameter searches at the same steps, on the quality setups.

Per setup, seed (``run.SEEDS``) and protocol (``run.PROTOCOLS``):

- the race variants (``VARIANTS``): ``lrfinder.torch.tune_lr`` on the setup's model, optimizer
  and batches for that seed (the batches ``train.train`` uses), ``total_steps = setup.steps``,
  ``for_schedule = protocol``, the setup's loss, scored on ``val_batches(setup)`` (a fixed subset
  of the validation data), with a range test of ``train.RANGE_TEST_STEPS`` steps. The variants
  with ``val_data`` share one range test per seed (run once by ``lrfinder.torch.find_lr`` with the
  same arguments tune_lr would use, then passed as ``result=``, so its steps are still counted);
  ``race_noval`` runs its own inside tune_lr on the training batches left after the held-out ones.
- ``random``: log-uniform rates over 1e-6..10 (``numpy`` seeded with the benchmark seed), as many
  full-length trainings (the protocol over ``setup.steps``) as ``race_full``'s steps allow, the
  lowest held-out loss on the same validation subset wins.
- ``optuna``: TPE (seeded with the benchmark seed) with a successive-halving pruner over 1e-6..10
  (log); every trial trains the protocol over ``setup.steps`` and reports the held-out loss at the
  pruner's rungs (1/16 and 1/4 of the steps); the study stops once ``race_full``'s steps are spent
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

# name -> (rounds as (count or None for "all candidates", fraction), num, span, with val_data)
VARIANTS: dict[str, tuple[tuple[tuple[int | None, float], ...] | None, int, float, bool]] = {
    "race_quick": (((None, 0.25),), 5, 1.0, True),
    "race_half": (((None, 0.25), (2, 0.5)), 5, 1.0, True),
    "race_full": (None, 5, 1.0, True),  # tune_lr's default rounds: ((5, 0.25), (2, 1.0))
    "race_noval": (None, 5, 1.0, False),
    "race_num7": (((None, 0.25), (2, 1.0)), 7, 1.0, True),
    "race_span1.5": (None, 5, 1.5, True),
}
SEARCHES = ("random", "optuna")
BUDGET_FROM = "race_full"  # the baselines get the steps this variant spent
VAL_BATCHES = 8  # the validation subset: up to 8 batches of the setup's batch size
SEARCH_LOW, SEARCH_HIGH = 1e-6, 10.0
PRUNER_RUNGS = 16  # optuna's first rung at steps / 16, then steps / 4 (reduction factor 4)
REDUCTION = 4
GRID_TRAININGS = 29 * 3  # a 3-seed grid: 29 rates x 3 seeds


def race_key(variant: str, protocol: str, seed: int) -> str:
    return f"{variant}|{protocol}|{seed}"


def val_batches(setup: Setup) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``VAL_BATCHES x batch_size`` validation examples (the validation split is already
    a random permutation), in batches of the setup's size; all of them where there are fewer."""
    data = setup.data()
    n = min(VAL_BATCHES * setup.batch_size, data.x_val.shape[0])
    b = setup.batch_size
    return [(data.x_val[i : i + b], data.y_val[i : i + b]) for i in range(0, n, b)]


# -- the race ---------------------------------------------------------------------------------
def _rounds(spec: tuple[tuple[int | None, float], ...] | None, n: int) -> Any:
    if spec is None:
        return None
    return [(n if c is None else min(c, n), f) for c, f in spec]


def run_races(setup: Setup, seed: int, protocol: str) -> dict[str, Any]:
    """Every race variant for one setup, seed and protocol: cache key -> value."""
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

    model, opt = fresh()
    shared = lrfinder.torch.find_lr(
        model, opt, batches, loss_fn=loss_fn, num_steps=train.RANGE_TEST_STEPS, progress=False
    )
    out[f"rangetest|{seed}"] = shared.to_dict()
    for name, (spec, num, span, with_val) in VARIANTS.items():
        model, opt = fresh()
        try:
            if with_val:
                n = len(_candidates(shared, protocol, num, span)[0])
                tuned: TuneResult = lrfinder.torch.tune_lr(
                    model, opt, batches, total_steps=setup.steps, loss_fn=loss_fn,
                    val_data=val, for_schedule=protocol, result=shared, num=num, span=span,
                    rounds=_rounds(spec, n), progress=False,
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
def race_tasks(setups: list[Setup]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """One task per setup, seed and protocol: every variant (its key: the last variant's)."""
    from .run import PROTOCOLS, SEEDS

    last = list(VARIANTS)[-1]
    return [
        ("race", s.name, race_key(last, p, seed), {"seed": seed, "protocol": p})
        for s in setups
        for p in PROTOCOLS
        for seed in SEEDS
    ]


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
                    args = {"protocol": p, "seed": seed, "name": name, "budget": budget}
                    tasks.append(("search", s.name, race_key(name, p, seed), args))
    return tasks


def execute(kind: str, setup_name: str, args: dict[str, Any]) -> dict[str, Any] | Any:
    setup = BY_NAME[setup_name]
    if kind == "race":
        return run_races(setup, args["seed"], args["protocol"])
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
