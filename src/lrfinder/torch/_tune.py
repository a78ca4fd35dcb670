"""tune_lr for PyTorch: the race of candidate rates on held-out loss, every trial from one
snapshot, with the user's own model, optimizer, step and schedule; nothing left behind."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Unpack

import torch

from .._core._checks import check_count
from .._core._errors import LRFinderError
from .._core._find import cycle
from .._core._rangetest import SweepOptions
from .._core._result import RangeTestResult
from .._core._signals import signals_held, terminate_cleanly
from .._tuning._race import Round
from .._tuning._race_result import TuneResult
from .._tuning._trial import (
    Resuming,
    ScheduleShape,
    check_race_options,
    check_schedule,
    race_trial,
    resumes,
    run_race,
    runs_range_test,
    shortened_schedule,
)
from ._accelerate import loader_state
from ._ddp import rank
from ._find import find_lr, prepare
from ._snapshot import Snapshot
from ._step import StepFn, TorchStep

# Held-out batches a trial is scored on: enough that the score's noise is small next to the gaps
# between candidates a decade apart, few enough that scoring costs a fraction of the training.
VAL_BATCHES = 8


def _held_out_first(data: Iterable[Any], skip: int) -> Iterator[Any]:
    """Batches forever, leaving out the first ``skip`` of every pass (the held-out ones)."""
    while True:
        yielded = False
        for batch in itertools.islice(data, skip, None):
            yielded = True
            yield batch
        if not yielded:
            raise LRFinderError(
                f"`data` has no batch beyond the {skip} held out for scoring. Pass `val_data`, "
                "or lower `val_batches`."
            )


# SIGTERM during the race: restore and clean up (the `finally` below), then end as SIGTERM would.
@terminate_cleanly()
def tune_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    data: Iterable[Any],
    *,
    total_steps: int,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    step_fn: StepFn | None = None,
    val_data: Iterable[Any] | None = None,
    val_batches: int = VAL_BATCHES,
    for_schedule: str | ScheduleShape = "constant",
    result: RangeTestResult | None = None,
    rates: Sequence[float] | None = None,
    num: int = 5,
    span: float = 1.0,
    rounds: Sequence[Round | tuple[int, float]] | None = None,
    keep: str = "initial",
    device: torch.device | str | None = None,
    accumulation_steps: int = 1,
    amp: bool = False,
    amp_dtype: torch.dtype | None = None,
    scaler: Any = None,
    schedulers: Sequence[Any] = (),
    snapshot: str = "memory",
    resume: bool = True,
    shorten: str = "truncate",
    widen: int | None = None,
    progress: bool = True,
    accelerator: Any = None,
    **sweep: Unpack[SweepOptions],
) -> TuneResult:
    """Find the rate that trains best on held-out loss: a range test, then a race around it.

    The range test narrows the rate to a decade or two (:func:`find_lr`, run here unless
    ``result`` or ``rates`` is given). A handful of candidate rates around its suggestion are
    then trained from the same snapshot with the schedule you will train with. Each is scored on
    the mean loss over a fixed set of held-out batches, and the weak ones are dropped early
    (successive halving: by default all 5 train a quarter of ``total_steps``, then the best 2
    go on to nine tenths of it, 2.55 trainings in all (to all of it with ``keep="winner"``);
    at a constant rate all 5 train a fifth, the best 3 go on to two fifths and the best 2 to
    all of it, 2.8 trainings). Where the held-out loss still falls toward the lowest or the
    highest candidate after the first round, up to 2 rates past it race too (``widen``). Every
    piece of state is put back exactly at the end, also on error or Ctrl-C, unless
    ``keep="winner"``.

    Under ``torch.distributed`` call it on every rank with that rank's data: the range test and
    the held-out losses are averaged over the ranks, so every rank races the same candidates
    and picks the same winner.

    Args:
        model: as for :func:`find_lr`.
        optimizer: as for :func:`find_lr`.
        data: as for :func:`find_lr`, and re-iterable (a DataLoader, a list), since every
            trial starts a new pass over it.
        loss_fn: as for :func:`find_lr`.
        step_fn: as for :func:`find_lr`.
        device: as for :func:`find_lr`.
        accumulation_steps: as for :func:`find_lr`.
        amp: as for :func:`find_lr`.
        amp_dtype: as for :func:`find_lr`.
        scaler: as for :func:`find_lr`.
        schedulers: as for :func:`find_lr`.
        snapshot: as for :func:`find_lr`; also where a resumed candidate's state waits.
        resume: at a constant rate (``for_schedule="constant"``) or with
            ``shorten="truncate"``, a candidate of a later round goes on from the state its last
            round left, instead of training those steps again from the snapshot: the same
            training, and the same held-out losses, for less. Its cost: up to one more snapshot
            than the larger of a round's and the next round's count of candidates, held in
            ``snapshot`` between rounds. ``False``
            trains every trial from the snapshot. Not with ``accelerator`` (a prepared loader's
            pass cannot be paused and taken up again).
        shorten: how a trial shorter than ``total_steps`` runs the schedule. ``"truncate"``
            (the default) runs the first steps of the schedule over ``total_steps``, as the real
            training begins, so every finalist goes on from its last round (with ``resume``)
            whatever the schedule; a short trial is then scored before the schedule has
            annealed (a one-cycle's first quarter is still warming up). With the default
            ``rounds`` and ``keep="initial"`` the finalists of such a schedule stop at nine
            tenths of ``total_steps``, where its rate is near its floor and their order is
            settled (2.55 trainings of trials for 5 candidates going on). ``"compress"`` fits
            the whole schedule into each trial's steps, so a short one-cycle still warms up,
            peaks and anneals, and every round starts over (3.25 trainings). The same at a
            constant rate.
        widen: up to how many rates the race adds past an edge of the candidates, where the first
            round's best is the lowest or the highest and its held-out loss has not turned there
            (see :func:`lrfinder.tune_lr`), never above the range test's blow-up; each runs the
            first round like the others. None (the default): 2 where the candidates come from the
            range test and ``val_data`` is given; 0 with ``rates``, or without ``val_data`` (a score
            on batches held out of the training data is less sure).
        accelerator: as for :func:`find_lr`.
        total_steps: the length of the training the race stands in for, in optimizer steps; the
            last round trains this many.
        val_data: held-out batches; the first ``val_batches`` score every trial (``eval()``,
            ``no_grad``). Without it the first ``val_batches`` batches of every pass over
            ``data`` are held out and never trained on. With a shuffling loader those examples
            reach other batches in later passes, so pass ``val_data`` when you have it.
        val_batches: how many held-out batches score a trial.
        for_schedule: the schedule every trial trains with (shortened as ``shorten`` says):
            ``"constant"``, ``"one_cycle"`` (the rate is the peak, ``max_lr``),
            ``"cosine_annealing"`` (the rate is the start of a cosine annealing), or any
            ``shape(lr, steps) -> Schedule``.
        result: a finished range test to take the candidates from, instead of running one.
        rates: the candidates themselves, instead of a range test.
        num: how many candidates; see :func:`lrfinder.tune_lr`.
        span: over how many decades either side of the suggestion; see
            :func:`lrfinder.tune_lr`.
        rounds: the rounds of the race; see :func:`lrfinder.tune_lr`.
        keep: ``"initial"`` puts the model back as it was. ``"winner"`` keeps the winner's
            state after its last round, which trains all of ``total_steps`` with your schedule:
            the training you would have run next, already done.
        progress: one progress bar over the range test and one over the race (rank 0 only).
        **sweep: the range test's sweep (:class:`lrfinder.SweepOptions`).

    Returns:
        A :class:`lrfinder.TuneResult`: the winner with a reason, a confidence and warnings,
        every candidate's held-out losses by round, and the steps spent.

    Examples:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> w = torch.randn(4, 1)
        >>> data = [(x, x @ w) for x in torch.randn(12, 16, 4)]
        >>> tuned = tune_lr(model, opt, data[:10], val_data=data[10:], total_steps=40,
        ...                 loss_fn=torch.nn.functional.mse_loss, start_lr=1e-4, end_lr=10,
        ...                 num_steps=40, progress=False)
        >>> 1e-3 < tuned.lr < 3.0, tuned.steps_spent <= 40 + 3.25 * 40
        (True, True)
    """
    run = prepare(
        model,
        optimizer,
        loss_fn=loss_fn,
        step_fn=step_fn,
        device=device,
        accumulation_steps=accumulation_steps,
        amp=amp,
        amp_dtype=amp_dtype,
        scaler=scaler,
        accelerator=accelerator,
    )
    if iter(data) is data:
        raise LRFinderError(
            "`data` must be re-iterable (a DataLoader, a list): every trial of the race starts "
            f"a new pass over it. Received: a one-shot {type(data).__name__}."
        )
    if not isinstance(resume, bool):
        raise LRFinderError(f"`resume` must be True or False. Received: resume={resume!r}")
    if keep not in ("initial", "winner"):
        raise LRFinderError(f"`keep` must be 'initial' or 'winner'. Received: keep={keep!r}")
    check_count("total_steps", total_steps)
    check_count("val_batches", val_batches)
    optimizers = run.optimizers
    shorten = check_schedule(for_schedule, shorten, total_steps)
    check_race_options(num, span, rounds, rates, widen)

    extras = run.extras(schedulers, scaler)
    snap = Snapshot(model, optimizers, extras=extras, place=snapshot)
    # With keep="winner": the trained state of the best full-length trial so far.
    best: dict[str, Any] = {"loss": math.inf, "lr": None, "state": None}
    kept = False

    def run_trial(lr: float, steps: int, kept: Any) -> tuple[float, Any]:
        if kept is None:
            snap.restore()
            start, step = (
                0,
                TorchStep(
                    None,
                    model,
                    optimizers,
                    run.compute_loss,
                    cycle(train_data),
                    device=run.device,
                    accumulation=run.accumulation,
                    autocast_dtype=run.autocast_dtype,
                    scaler=run.scaler,
                    val_batches=held_out,
                    **run.step_hooks(),
                ),
            )
        else:  # go on from the state, and the pass over the data, of this rate's last round
            start, state, step = kept
            try:
                state.restore()
            finally:
                state.close()
        schedule = shortened_schedule(for_schedule, shorten, lr, steps, total_steps)
        model.train()
        # Every trial reads the same passes of a prepared loader (Accelerate).
        with loader_state(data, accelerator):
            for i in range(start, steps):
                rate = schedule(i)
                loss = step.train([rate * r for r in run.ratios], at=i)
                if loss is None or not math.isfinite(loss):
                    return math.inf, None  # diverged, or the scaler found no finite step
        # A full-length trial has no round after it; a shorter one may go on in the next.
        going = None
        if resuming and steps < total_steps:
            going = (steps, Snapshot(model, optimizers, extras=extras, place=snapshot), step)
        try:
            score = step.evaluate()
        except BaseException:
            if going is not None:
                going[1].close()
            raise
        if keep == "winner" and steps == total_steps and score < best["loss"]:
            if best["state"] is not None:
                best["state"].close()
            best.update(loss=score, lr=lr, state=Snapshot(model, optimizers, extras=extras))
        return score, going

    resuming = resume and accelerator is None and resumes(for_schedule, shorten)
    trial = race_trial(run_trial, lambda going: going[1].close(), resuming)

    try:
        if val_data is not None:
            held_out = list(itertools.islice(val_data, val_batches))
            train_data: Iterable[Any] = data
        else:
            with loader_state(data, accelerator):
                held_out = list(itertools.islice(data, val_batches))
            train_data = _Reiterable(lambda: _held_out_first(data, len(held_out)))
        if not held_out:
            raise LRFinderError(
                "The race found no held-out batch; pass `val_data` with one or more."
            )
        if runs_range_test(result, rates, sweep):
            result = find_lr(
                model,
                optimizers,
                train_data,
                loss_fn=loss_fn,
                step_fn=step_fn,
                device=run.device,
                accumulation_steps=run.accumulation,
                amp=amp,
                amp_dtype=amp_dtype,
                scaler=scaler,
                schedulers=schedulers,
                snapshot=snapshot,
                progress=progress,
                accelerator=accelerator,
                **sweep,
            )
        tuned = run_race(
            trial,
            total_steps=total_steps,
            result=result,
            rates=rates,
            for_schedule=for_schedule,
            num=num,
            span=span,
            rounds=rounds,
            progress=progress and rank() == 0,
            framework="torch",
            keep=keep,
            val_batches=len(held_out),
            held_out="data" if val_data is None else "val_data",
            shorten=shorten,
            widen=widen,
        )
        if keep == "winner" and best["lr"] != tuned.lr:
            raise LRFinderError(
                "`keep='winner'` needs the winner trained over all of `total_steps` in the last "
                "round; the model was put back as it was. End `rounds` with a fraction of 1.0 "
                f"(the default rounds do). Received: rounds={rounds!r}"
            )
        if keep == "winner":
            with signals_held():
                best["state"].restore()
            kept = True
    finally:
        try:
            if not kept:
                with signals_held():  # a second Ctrl-C waits until everything is back
                    snap.restore()
        finally:
            snap.close()
            if isinstance(trial, Resuming):
                trial.retain(())
            if best["state"] is not None:
                best["state"].close()
    return tuned


class _Reiterable:
    """A re-iterable over a generator factory: ``cycle`` and ``find_lr`` start a new pass."""

    def __init__(self, make: Callable[[], Iterator[Any]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Any]:
        return self._make()
