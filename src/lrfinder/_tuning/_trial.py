"""What every framework's tune_lr shares: the schedule a trial trains with (the user's,
compressed into the trial's steps), and the race run over the adapter's trial."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, Sequence, Sized
from typing import Any

from .._core._checks import check_count, is_real
from .._core._errors import LRFinderError
from .._core._names import canonical_schedule
from .._core._result import RangeTestResult
from ..schedules._basic import Schedule, constant, cosine_annealing
from ..schedules._cyclical import one_cycle
from ._race import Round, Trial, plan_rounds, tune_lr
from ._race_result import TuneResult

# A schedule the race cannot name: (peak rate, steps) -> the schedule over those steps.
ScheduleShape = Callable[[float, int], Schedule]
TRIAL_SCHEDULES = ("constant", "one_cycle", "cosine_annealing")


def trial_schedule(for_schedule: str | ScheduleShape, lr: float, steps: int) -> Schedule:
    """The schedule one trial trains ``steps`` steps with, at (peak) rate ``lr``.

    ``"constant"`` holds ``lr``; ``"one_cycle"`` is a one-cycle with peak ``lr`` and
    ``"cosine_annealing"`` a cosine annealing from ``lr`` (or the older ``"onecycle"`` and
    ``"cosine"``), both compressed into ``steps``, so a short trial still warms
    up, peaks and anneals as the full training would (a one-cycle truncated to its first quarter
    would stop inside its warm-up, never reaching the rate being raced). A callable
    ``shape(lr, steps)`` builds any other schedule.

    Examples:
        >>> s = trial_schedule("one_cycle", 0.1, 100)
        >>> round(max(s(i) for i in range(100)), 6), s(0) < 0.01
        (0.1, True)
    """
    if callable(for_schedule):
        return for_schedule(lr, steps)
    name = canonical_schedule(for_schedule)
    if name == "constant":
        return constant(lr)
    if name == "one_cycle":
        return one_cycle(lr, total_steps=max(steps, 4))  # the fewest steps its phases fit
    if name == "cosine_annealing":
        return cosine_annealing(lr, T_max=steps)
    raise LRFinderError(
        f"`for_schedule` must be one of {', '.join(TRIAL_SCHEDULES)}, or a callable "
        f"shape(lr, steps) -> schedule. Received: for_schedule={for_schedule!r}"
    )


# How a trial shorter than the training runs its schedule.
SHORTENINGS = ("compress", "truncate")
# Where a truncated race's finalists stop when nothing of them is kept: near the end of an
# annealing schedule the rate is near its floor and their order is settled. On the quality
# benchmark's one-cycle races, stopping at 0.9 kept the regret (0.0062 against 0.0061 on all
# setups; 0.0005 against 0.0007 on the development ones) at 2.94 trainings against 3.64
# (BENCHMARKS.md). A constant rate goes on to the end: there it was a trade, not a gain.
TRUNCATED_FINISH = 0.9


def check_schedule(for_schedule: str | ScheduleShape, shorten: Any, total_steps: int) -> str:
    """``for_schedule`` and ``shorten`` checked before anything trains (an unknown schedule is
    refused now, not mid-race); ``shorten`` returned."""
    trial_schedule(for_schedule, 1.0, total_steps)
    if shorten not in SHORTENINGS:
        raise LRFinderError(
            f"`shorten` must be one of {', '.join(map(repr, SHORTENINGS))}: how a trial shorter "
            "than `total_steps` runs the schedule, fitted whole into its steps or cut off after "
            f"them. Received: shorten={shorten!r}"
        )
    return str(shorten)


def shortened_schedule(
    for_schedule: str | ScheduleShape, shorten: str, lr: float, steps: int, total_steps: int
) -> Schedule:
    """The schedule a trial of ``steps`` steps runs: with ``"compress"``, the whole schedule
    fitted into them (:func:`trial_schedule`); with ``"truncate"``, the first ``steps`` steps of
    the schedule over ``total_steps``, exactly as the full training begins."""
    return trial_schedule(for_schedule, lr, total_steps if shorten == "truncate" else steps)


def runs_range_test(
    result: RangeTestResult | None, rates: Sequence[float] | None, sweep: Mapping[str, Any]
) -> bool:
    """Whether the adapter runs the range test itself (neither ``result`` nor ``rates`` given);
    sweep options it would then ignore are refused."""
    if result is None and rates is None:
        return True
    if sweep:
        raise LRFinderError(
            "Range-test options are read only when tune_lr runs the range test itself. "
            f"Received them with `result` or `rates`: {', '.join(sorted(sweep))}"
        )
    return False


def check_race_options(
    num: Any, span: Any, rounds: Any, rates: Sequence[float] | None, widen: Any
) -> None:
    """``num``, ``span``, ``rounds`` and ``widen`` checked before an adapter trains anything
    (the race checks them again once it knows its candidates)."""
    num = check_count("num", num, minimum=2)
    if widen is not None:
        check_count("widen", widen, minimum=0)
    if not is_real(span) or not 0 < span < math.inf:
        raise LRFinderError(f"`span` must be a finite number above 0. Received: span={span!r}")
    plan_rounds(rounds, len(rates) if isinstance(rates, Sized) else num)


# How an adapter records held-out batches taken from the training data (no `val_data`): a score
# less sure than the user's own held-out data (BENCHMARKS.md, `race_noval`), so the race keeps
# to the range test's candidates there (with `val_data` it may widen past an edge).
HELD_OUT_OF_TRAINING = ("data", "split")


def run_race(
    trial: Trial,
    *,
    total_steps: int,
    result: RangeTestResult | None,
    rates: Sequence[float] | None,
    for_schedule: str | ScheduleShape,
    num: int,
    span: float,
    rounds: Sequence[Round | tuple[int, float]] | None,
    progress: bool,
    shorten: str,
    widen: int | None,
    keep: str | None = None,
    **settings: Any,
) -> TuneResult:
    """The race over an adapter's trial, its ``settings`` (with ``shorten``, and ``keep`` where
    the adapter has one) added to the result's. By default a truncated race at any schedule but
    a constant rate stops its finalists at ``TRUNCATED_FINISH`` of the budget, unless the
    winner's state is kept (``keep="winner"`` needs it trained to the end), and a race scored on
    batches held out of the training data adds no rates past an edge (``widen``)."""
    if widen is None and settings.get("held_out") in HELD_OUT_OF_TRAINING:
        widen = 0
    constant = isinstance(for_schedule, str) and canonical_schedule(for_schedule) == "constant"
    early = shorten == "truncate" and not constant and keep != "winner"
    tuned = tune_lr(
        trial,
        budget_steps=total_steps,
        result=result,
        rates=rates,
        for_schedule=for_schedule if isinstance(for_schedule, str) else "custom",
        num=num,
        span=span,
        rounds=rounds,
        finish=TRUNCATED_FINISH if early else 1.0,
        widen=widen,
        progress=progress,
    )
    settings["shorten"] = shorten
    if keep is not None:
        settings["keep"] = keep
    return dataclasses.replace(tuned, settings={**tuned.settings, **settings})


class Resuming:
    """A trial that keeps each candidate's trained state between rounds, so that the next round
    goes on from it instead of from the snapshot: a :class:`ResumingTrial` for the race.

    ``run(lr, steps, kept)`` trains ``lr`` up to ``steps`` steps in all, from ``kept`` (what it
    returned for ``lr`` after the last round; it now owns and frees it) or, when ``kept`` is
    None, from the snapshot. It returns the held-out loss and the state to keep, or None.
    ``close(state)`` frees a state the race no longer needs.
    """

    def __init__(
        self,
        run: Callable[[float, int, Any], tuple[float, Any]],
        close: Callable[[Any], None],
    ) -> None:
        self._run = run
        self._close = close
        self._kept: dict[float, Any] = {}

    def __call__(self, lr: float, steps: int) -> float:
        score, state = self._run(lr, steps, self._kept.pop(lr, None))
        if state is not None:
            self._kept[lr] = state
        return score

    def retain(self, rates: Collection[float]) -> None:
        for lr in [lr for lr in self._kept if lr not in rates]:
            self._close(self._kept.pop(lr))


def race_trial(
    run: Callable[[float, int, Any], tuple[float, Any]],
    close: Callable[[Any], None],
    resuming: bool,
) -> Trial:
    """The trial an adapter races: with ``resuming`` (see :func:`resumes`), a :class:`Resuming`
    one over ``run`` and ``close``, so a finalist goes on from where its last round stopped;
    else one that trains every trial from the snapshot (``run(lr, steps, None)``)."""
    if resuming:
        return Resuming(run, close)
    return lambda lr, steps: run(lr, steps, None)[0]


def resumes(for_schedule: str | ScheduleShape, shorten: str) -> bool:
    """Whether a longer trial of a rate begins with exactly its shorter one (a truncated
    schedule, or a constant rate, which compressing leaves as it is), so the race can go on from
    the shorter one's state."""
    if shorten == "truncate":
        return True
    return isinstance(for_schedule, str) and canonical_schedule(for_schedule) == "constant"
