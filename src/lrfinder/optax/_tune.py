"""tune_lr for JAX/Optax: the race of candidate rates on held-out loss, each trial from the same
params and optimizer state (JAX arrays are immutable: nothing to restore), your jitted step."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Unpack

import jax
import numpy as np
import optax

from .._core._checks import check_count
from .._core._errors import LRFinderError
from .._core._find import cycle
from .._core._rangetest import SweepOptions, ratios_to_first
from .._core._result import RangeTestResult
from .._tuning._race import Round
from .._tuning._race_result import TuneResult
from .._tuning._trial import (
    ScheduleShape,
    check_race_options,
    check_schedule,
    race_trial,
    resumes,
    run_race,
    runs_range_test,
    shortened_schedule,
)
from ._find import RateWriter, TrainStep, _copy, _rates, check_inputs, find_lr


def _finite(loss: Any) -> bool:
    return math.isfinite(float(np.asarray(loss).reshape(())))


def _to_host(tree: Any) -> tuple[Any, list[Any]]:
    """``tree``'s arrays copied to host memory, each with its sharding to go back to."""
    leaves, structure = jax.tree.flatten(tree)
    kept = [
        (jax.device_get(x), x.sharding) if isinstance(x, jax.Array) else (x, None) for x in leaves
    ]
    return structure, kept


def _from_host(held: tuple[Any, list[Any]]) -> Any:
    """The tree :func:`_to_host` copied, back on its devices, bit for bit."""
    structure, kept = held
    leaves = [x if sharding is None else jax.device_put(x, sharding) for x, sharding in kept]
    return jax.tree.unflatten(structure, leaves)


def tune_lr(
    train_step: TrainStep,
    params: optax.Params,
    opt_state: optax.OptState,
    batches: Iterable[Any],
    *,
    eval_fn: Callable[[optax.Params], Any],
    total_steps: int,
    for_schedule: str | ScheduleShape = "constant",
    result: RangeTestResult | None = None,
    rates: Sequence[float] | None = None,
    num: int = 5,
    span: float = 1.0,
    rounds: Sequence[Round | tuple[int, float]] | None = None,
    hyperparam: str = "learning_rate",
    resume: bool = True,
    shorten: str = "truncate",
    widen: int | None = None,
    progress: bool = True,
    **sweep: Unpack[SweepOptions],
) -> TuneResult:
    """Find the rate that trains best on held-out loss: a range test, then a race around it.

    The range test (:func:`find_lr`, run here unless ``result`` or ``rates`` is given) narrows
    the rate; a handful of candidates around its suggestion are then trained from your
    ``params`` and ``opt_state`` with the schedule you will train with, each scored by
    ``eval_fn(params)`` on held-out data, and the weak ones are dropped early (successive
    halving; see :func:`lrfinder.tune_lr`). ``train_step`` is traced once: every rate is written
    into ``opt_state.hyperparams`` as a value. Your ``params`` and ``opt_state`` are never
    changed.

    Args:
        train_step: as for :func:`find_lr`.
        params: as for :func:`find_lr`.
        opt_state: as for :func:`find_lr`.
        hyperparam: as for :func:`find_lr`.
        batches: a re-iterable of training batches (a list, a loader): each trial starts a new
            pass over it.
        eval_fn: ``eval_fn(params) -> loss`` on your held-out data (a fixed subset: it runs once
            per trial); jit it yourself.
        total_steps: the length of the training the race stands in for; the last round trains
            this many steps.
        for_schedule: ``"constant"``, ``"one_cycle"`` (the rate is the peak),
            ``"cosine_annealing"``, or any ``shape(lr, steps) -> Schedule``, shortened for each
            trial as ``shorten`` says.
        result: see :func:`lrfinder.torch.tune_lr`.
        rates: see :func:`lrfinder.torch.tune_lr`.
        num: see :func:`lrfinder.torch.tune_lr`.
        span: see :func:`lrfinder.torch.tune_lr`.
        rounds: see :func:`lrfinder.torch.tune_lr`.
        resume: at a constant rate or with ``shorten="truncate"``, a candidate of a later round
            goes on from the params, optimizer state and place in ``batches`` its last round
            left (the params and state wait in host memory between rounds), instead of training
            those steps again: the same training for less. ``False`` trains every trial from
            your ``params``.
        shorten: ``"truncate"`` (the default: a short trial runs the schedule's first steps
            over ``total_steps``, and the default race's finalists stop at nine tenths of it) or
            ``"compress"`` (the whole schedule fitted into a short trial's steps); see
            :func:`lrfinder.torch.tune_lr`.
        widen: up to how many rates the race adds past an edge of the candidates, where the first
            round's best is the lowest or the highest and its held-out loss has not turned there
            (see :func:`lrfinder.tune_lr`), never above the range test's blow-up; each runs the
            first round like the others. None (the default): 2 where the candidates come from the
            range test, 0 with ``rates``.
        progress: progress bars for the range test and the race.
        **sweep: the range test's sweep (:class:`lrfinder.SweepOptions`).

    Returns:
        A :class:`lrfinder.TuneResult`.
    """
    check_inputs(train_step, params, batches, hyperparam, progress)
    if result is not None and not isinstance(result, RangeTestResult):
        raise LRFinderError(
            "`result` must be a RangeTestResult (from lrfinder.optax.find_lr or "
            f"RangeTestResult.load), or None to run the range test. Received: "
            f"{type(result).__name__}"
        )
    if not callable(eval_fn):
        raise LRFinderError(
            "`eval_fn` must be a callable eval_fn(params) -> held-out loss. "
            f"Received: {type(eval_fn).__name__}"
        )
    if iter(batches) is batches:
        raise LRFinderError(
            "`batches` must be re-iterable (a list, a loader): every trial of the race starts a "
            f"new pass over it. Received: a one-shot {type(batches).__name__}."
        )
    check_count("total_steps", total_steps)
    if not isinstance(resume, bool):
        raise LRFinderError(f"`resume` must be True or False. Received: resume={resume!r}")
    shorten = check_schedule(for_schedule, shorten, total_steps)
    check_race_options(num, span, rounds, rates, widen)
    base_lrs = _rates(opt_state, hyperparam)
    if not base_lrs:
        raise LRFinderError(
            f"`opt_state` holds no injected {hyperparam!r}, so the race cannot set the rate. "
            f"Received: {type(opt_state).__name__}. Build the optimizer as "
            f"optax.inject_hyperparams(optax.adam)({hyperparam}=1e-3) and pass its init state."
        )
    ratios = ratios_to_first(base_lrs, what=f"injected {hyperparam!r}", name=hyperparam)
    if runs_range_test(result, rates, sweep):
        result = find_lr(
            train_step,
            params,
            opt_state,
            batches,
            hyperparam=hyperparam,
            progress=progress,
            **sweep,
        )

    write = RateWriter(opt_state, hyperparam)

    def run_trial(lr: float, steps: int, kept: Any) -> tuple[float, Any]:
        schedule = shortened_schedule(for_schedule, shorten, lr, steps, total_steps)
        if kept is None:
            # Copies, so a train_step jitted with donate_argnums cannot delete the caller's arrays.
            start, p, s = 0, jax.tree.map(_copy, params), jax.tree.map(_copy, opt_state)
            data = cycle(batches)
        else:  # go on from this rate's last round: its state, back from the host, and its data
            start, (p, s), data = kept[0], _from_host(kept[1]), kept[2]
        # Each loss is read once the next step is dispatched, so the host never waits for the
        # step it just queued; a divergence still ends the trial, one step later.
        last: Any = None
        for i in range(start, steps):
            batch = next(data, None)
            if batch is None:
                raise LRFinderError("`batches` yielded no batch; pass at least one.")
            rate = schedule(i)
            p, s, loss = train_step(p, write.into(s, [rate * r for r in ratios]), batch)
            if last is not None and not _finite(last):
                return math.inf, None
            last = loss
        if last is not None and not _finite(last):
            return math.inf, None
        # A full-length trial has no round after it; a shorter one may go on in the next.
        going = (steps, _to_host((p, s)), data) if resuming and steps < total_steps else None
        return float(np.asarray(eval_fn(p)).reshape(())), going

    resuming = resume and resumes(for_schedule, shorten)
    trial = race_trial(run_trial, lambda going: None, resuming)

    return run_race(
        trial,
        total_steps=total_steps,
        result=result,
        rates=rates,
        for_schedule=for_schedule,
        num=num,
        span=span,
        rounds=rounds,
        progress=progress,
        framework="optax",
        shorten=shorten,
        widen=widen,
    )
