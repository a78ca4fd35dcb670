"""The race: a few candidate rates from the range test, each trained briefly from the same
snapshot and scored on held-out loss; successive halving drops the weak ones.

The range test reads the *training* loss at *rising* rates; the race measures what the user wants,
the held-out loss after training at one rate. It is framework-free: the caller supplies
``trial(lr, steps) -> held-out loss`` (the adapter restores the snapshot before each trial).
Successive halving: Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
Hyperparameter Optimization", 2016.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._core._checks import check_count, is_real
from .._core._errors import LRFinderError, NoSuggestionError
from .._core._find import find_lr
from .._core._names import canonical_schedule
from .._core._progress import StepBar
from .._core._result import RangeTestResult, as_result
from ._candidates import _candidates, _reading, highest_swept
from ._race_result import RaceRound, TuneResult

logger = logging.getLogger("lrfinder")
Trial = Callable[[float, int], float]


@runtime_checkable
class ResumingTrial(Protocol):
    """A trial that can go on from where a candidate's last trial stopped (at a constant rate,
    the first steps of a longer trial are exactly a shorter one's).

    ``trial(lr, steps)`` trains ``lr`` up to ``steps`` steps in all: from the state it kept for
    ``lr`` at the end of its last trial when it kept one, else from the snapshot. After every
    trial of a round with a round after it, the race calls ``retain(rates)`` with the rates
    still among the next round's candidates and the round's rates still to run; the trial keeps
    the states of those rates only, so at most one more than the larger of the round's and the
    next round's count is held at once. Before a round that is no longer than the one before,
    and after the race, ``retain(())`` drops them all.
    """

    def __call__(self, lr: float, steps: int) -> float: ...

    def retain(self, rates: Collection[float]) -> None: ...


# Default rounds: every candidate at a quarter of the budget, then the best two at all of it
# (5 candidates: 3.25 trainings).
FIRST_FRACTION = 0.25
FINALISTS = 2
# Where the finalists go on from their last round at a constant rate, the default has a middle
# round: every candidate at a fifth, the best three to two fifths, the best two to all of it
# (5 candidates: 2.8 trainings, against 2.75 for the two rounds going on). A short round at a
# constant rate favours the higher rates; the middle round keeps one more candidate until the
# trials are long enough to tell (BENCHMARKS.md: mean regret 0.0065 against 0.0137 at a
# constant rate).
GOING_ON_FRACTION = 0.2
MIDDLE_COUNT, MIDDLE_FRACTION = 3, 0.4
# The default rounds' last one may stop short of the budget (``finish``), never before half of it.
MIN_FINISH = 0.5
# Confidence is ratio / (ratio + CONFIDENCE_HALF), ratio = the winner's margin over the best other
# candidate / how much the rate mattered in the first round (median minus best loss). Below
# NEAR_TIE the finalists count as nearly identical.
CONFIDENCE_HALF = 0.25
NEAR_TIE = 0.05
# Where the candidates come from a range test, the race may add up to WIDEN rates past an edge
# whose held-out loss has not turned (past_edge): the range test's suggestion can be off by
# more than ``span`` (BENCHMARKS.md, "widen").
WIDEN = 2


@dataclass(frozen=True)
class Round:
    """One round of the race: the best ``count`` candidates train ``fraction`` of the budget."""

    count: int
    fraction: float


def plan_rounds(
    rounds: Sequence[Round | tuple[int, float]] | None,
    n: int,
    *,
    going_on: bool = False,
    finish: float = 1.0,
) -> tuple[Round, ...]:
    """Check ``rounds`` against ``n`` candidates; None: all at 1/4 of the budget, the best 2 to
    ``finish`` of it (all of it by default; just one round, to ``finish``, for 2 candidates or
    fewer). With ``going_on`` (the finalists go on from their last round at a constant rate) and
    more than 3 candidates, None is all at 1/5, the best 3 to 2/5 and the best 2 to ``finish``."""
    if rounds is None:
        finish = _check_finish(finish)
        if going_on and n > MIDDLE_COUNT:
            middle = Round(MIDDLE_COUNT, MIDDLE_FRACTION)
            return Round(n, GOING_ON_FRACTION), middle, Round(FINALISTS, finish)
        if n <= FINALISTS:
            return (Round(n, finish),)
        return Round(n, FIRST_FRACTION), Round(FINALISTS, finish)
    try:
        plan = tuple(r if isinstance(r, Round) else Round(*r) for r in rounds)
    except TypeError:
        raise LRFinderError(
            "`rounds` must be (count, fraction) pairs, e.g. ((5, 0.25), (2, 1.0)). "
            f"Received: rounds={rounds!r}"
        ) from None
    counts = [check_count("count of a round", r.count) for r in plan]
    fractions = [r.fraction for r in plan]
    if not plan or counts[0] != n or any(b > a for a, b in itertools.pairwise(counts)):
        raise LRFinderError(
            f"`rounds` must start with every candidate ({n}) and never add any back: counts that "
            f"do not rise. Received: rounds={rounds!r}"
        )
    ok = all(is_real(f) for f in fractions)
    in_range = ok and all(0 < f <= 1 for f in fractions)
    if not in_range or any(not a < b for a, b in itertools.pairwise(fractions)):
        raise LRFinderError(
            "The fractions of `rounds` must rise, each above 0 and at most 1.0 (1.0: the whole "
            f"budget; a cheaper race ends below it). Received: rounds={rounds!r}"
        )
    return tuple(Round(c, float(f)) for c, f in zip(counts, fractions, strict=True))


def _check_finish(finish: Any) -> float:
    if not (is_real(finish) and MIN_FINISH <= finish <= 1.0):
        raise LRFinderError(
            f"`finish` (where the default rounds' last round stops, as a fraction of the budget) "
            f"must be between {MIN_FINISH} and 1.0. Received: finish={finish!r}"
        )
    return float(finish)


class _RaceBar(StepBar):
    """One bar over every trial of the race: the candidate running, and the best so far in
    its round (a longer round's losses are not comparable with a shorter one's)."""

    def trial(self, lr: float, best: tuple[float, float] | None) -> None:
        if self._bar is not None:
            shown = {"lr": f"{lr:.2e}"}
            if best is not None:
                shown["best"] = f"{best[0]:.2e} ({best[1]:.4g})"
            self._bar.set_postfix(shown, refresh=True)

    def advance(self, steps: int) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def extend(self, steps: int) -> None:
        """Count ``steps`` more in the total: a candidate added past an edge."""
        if self._bar is not None:
            self._bar.total += steps
            self._bar.refresh()


def _score(trial: Trial, lr: float, steps: int) -> float:
    """The trial's held-out loss; inf (the worst) where it diverged."""
    value = trial(lr, steps)
    try:
        loss = float(value)
    except (TypeError, ValueError):
        raise LRFinderError(
            "`trial` must return the held-out loss as a number. "
            f"Received: {type(value).__name__} from trial(lr={lr:.3g}, steps={steps})"
        ) from None
    return loss if math.isfinite(loss) else math.inf


def race(
    trial: Trial,
    rates: Sequence[float],
    *,
    budget_steps: int,
    rounds: Sequence[Round | tuple[int, float]] | None = None,
    min_steps: int = 1,
    widen: int = 0,
    highest: float = math.inf,
    progress: bool = False,
) -> tuple[tuple[float, ...], tuple[RaceRound, ...]]:
    """Successive halving over ``rates``: each round trains its candidates from the snapshot
    for ``fraction x budget_steps`` steps (at least ``min_steps``) and passes the best ``count``
    finite ones on (ties: the lower rate). :func:`tune_lr` runs it and picks the winner.

    Up to ``widen`` rates past an edge (:func:`past_edge`, none above ``highest``) run the
    first round too. Returns the rates raced (ascending, the added ones among them) and the
    rounds.

    Raises:
        NoSuggestionError: every candidate of a round diverged.
        LRFinderError: an argument is out of range, or ``trial`` returned no number.
    """
    rates = list(_check_rates(rates))
    budget_steps, min_steps = _check_budget(budget_steps, min_steps)
    widen = check_count("widen", widen, minimum=0)
    plan = plan_rounds(rounds, len(rates))
    steps = [min(max(min_steps, int(r.fraction * budget_steps + 0.5)), budget_steps) for r in plan]
    # A resuming trial's round goes on from the round before when it is longer: it trains only
    # the steps in between. A round no longer than the one before starts again from the snapshot.
    keeps = isinstance(trial, ResumingTrial)
    resumed = [keeps and 0 < k and steps[k - 1] < s for k, s in enumerate(steps)]
    trained = [s - steps[k - 1] if resumed[k] else s for k, s in enumerate(steps)]
    bar = _RaceBar(progress, sum(r.count * t for r, t in zip(plan, trained, strict=True)), "race")
    alive, done = list(range(len(rates))), []
    try:
        for k, length in enumerate(steps):
            if keeps and not resumed[k]:
                trial.retain(())  # type: ignore[attr-defined]
            losses, best = [math.nan] * len(rates), None
            for ran, i in enumerate(alive, start=1):
                bar.trial(rates[i], best)
                losses[i] = _score(trial, rates[i], length)
                bar.advance(trained[k])
                if losses[i] < (math.inf if best is None else best[1]):
                    best = (rates[i], losses[i])
                if keeps and k + 1 < len(plan):
                    # Kept: the next round's candidates so far, and this round's still to run.
                    ahead = [*_ranked(alive, losses)[: plan[k + 1].count], *alive[ran:]]
                    trial.retain([rates[j] for j in ahead])  # type: ignore[attr-defined]
            if k == 0 and widen and len(rates) > 2:
                keep = plan[1].count if keeps and len(plan) > 1 else None
                alive = _widen(
                    trial, rates, losses, length, (widen, highest), bar, trained[0], keep
                )
            done.append(RaceRound(steps=length, losses=tuple(losses), resumed=resumed[k]))
            ranked = _ranked(alive, losses)
            if not ranked:
                raise NoSuggestionError(
                    f"Every candidate of round {k + 1} diverged over {length} steps ("
                    f"{', '.join(f'{rates[i]:.3g}' for i in alive)}). Race lower rates: a smaller "
                    "`span`, or lower `rates`."
                )
            logger.info(
                "race round %d/%d: %d rates x %d steps, best %.3g (held-out loss %.4g)",
                *(k + 1, len(plan), len(alive), length, rates[ranked[0]], losses[ranked[0]]),
            )
            if k + 1 < len(plan):
                alive = sorted(ranked[: plan[k + 1].count])
    finally:
        bar.close()
        if keeps:
            trial.retain(())  # type: ignore[attr-defined]
    return tuple(rates), tuple(done)


def _widen(
    trial: Trial,
    rates: list[float],
    losses: list[float],
    steps: int,
    limits: tuple[int, float],
    bar: _RaceBar,
    counted: int,
    keep: int | None,
) -> list[int]:
    """Add the rates :func:`past_edge` names to the first round (``rates`` and ``losses`` grow
    in place, ascending), ``limits``: at most so many, none above that rate; a resuming trial
    keeps the best ``keep``. Returns every candidate's index: all of them ran the first round."""
    most, highest = limits
    for _ in range(most):
        lr = past_edge(rates, losses, highest)
        if lr is None:
            break
        low = lr < rates[0]
        edge = rates[0] if low else rates[-1]
        bar.extend(counted)
        bar.trial(lr, (edge, losses[0] if low else losses[-1]))
        loss = _score(trial, lr, steps)
        bar.advance(counted)
        at = 0 if low else len(rates)
        rates.insert(at, lr)
        losses.insert(at, loss)
        logger.info(
            "race round 1: the loss still fell toward the %s candidate %.3g; %.3g added "
            "(held-out loss %.4g)",
            *("lowest" if low else "highest", edge, lr, loss),
        )
        if keep is not None:
            best = _ranked(range(len(rates)), losses)[:keep]
            trial.retain([rates[i] for i in best])  # type: ignore[attr-defined]
    return list(range(len(rates)))


def past_edge(
    rates: Sequence[float], losses: Sequence[float], highest: float = math.inf
) -> float | None:
    """The rate to add to a first round whose best of 3 or more candidates is the lowest or
    the highest (``rates`` ascending, ``losses`` theirs), or None.

    A rate one gap further out (the gap between the edge and its neighbour, in log), where the
    held-out loss has not turned: the parabola through the three outermost losses on that side
    (against log rate) opens downward, or bottoms out past the edge, or one of them diverged. A
    parabola that bottoms out between them says the best rate is inside. Upward, never above
    ``highest`` (the range test's blow-up): up to it where the gap would pass it.
    """
    if len(rates) < 3:
        return None
    ranked = _ranked(range(len(rates)), losses)
    if not ranked or ranked[0] not in (0, len(rates) - 1):
        return None
    low = ranked[0] == 0
    side = (0, 1, 2) if low else (-1, -2, -3)
    # Log rate measured outward from the edge (the two inner points negative), and the parabola
    # y = a t^2 + b t + c through the three points by divided differences.
    x = [math.log10(rates[i]) for i in side]
    t = [(v - x[0]) * (-1.0 if low else 1.0) for v in x]
    y = [losses[i] for i in side]
    if all(math.isfinite(v) for v in y):
        d1, d2 = (y[1] - y[0]) / t[1], (y[2] - y[1]) / (t[2] - t[1])
        a = (d2 - d1) / t[2]
        b = d1 - a * t[1]  # the slope at the edge, outward
        if a > 0 and b >= 0:  # it opens upward and bottoms out at or inside the edge
            return None
    out = 2 * x[0] - x[1]
    if not -300 < out < 300:  # a rate a float can hold, and its square
        return None
    if low:
        return 10.0**out
    top = min(10.0**out, highest)
    return top if top > rates[-1] * (1 + 1e-9) else None


def _ranked(alive: Sequence[int], losses: Sequence[float]) -> list[int]:
    """The candidates that trained (finite loss), best first; a stable sort of the ascending
    survivors, so ties keep the lower rate."""
    return sorted((i for i in alive if losses[i] < math.inf), key=lambda i: losses[i])


def _check_budget(budget_steps: Any, min_steps: Any) -> tuple[int, int]:
    budget_steps = check_count("budget_steps", budget_steps)
    min_steps = check_count("min_steps", min_steps)
    if min_steps > budget_steps:
        raise LRFinderError(
            f"`min_steps` must not exceed `budget_steps`. Received: min_steps={min_steps}, "
            f"budget_steps={budget_steps}"
        )
    return budget_steps, min_steps


def _check_rates(rates: Any) -> tuple[float, ...]:
    """Two or more distinct, finite, positive rates, ascending."""
    try:
        given = np.asarray(list(rates), dtype=float).ravel()
    except (TypeError, ValueError):
        given = np.zeros(0)
    if given.size < 2 or not np.all(np.isfinite(given) & (given > 0)):
        raise LRFinderError(
            f"`rates` must be 2 or more finite rates above 0. Received: rates={rates!r}"
        )
    if np.unique(given).size != given.size:
        raise LRFinderError(f"`rates` must be distinct. Received: rates={rates!r}")
    return tuple(float(r) for r in np.sort(given))


def _decide(
    rates: tuple[float, ...],
    rounds: tuple[RaceRound, ...],
    capped: bool,
    widened: tuple[bool, bool],
) -> tuple[float, str, float, list[str]]:
    """The winner, why, how confidently (module constants), and the warnings; ``capped``: the
    candidates stop at the range test's cap; ``widened``: the race added rates below the lowest
    candidate, above the highest."""
    last = rounds[-1].losses
    w = int(np.argmin(np.where(np.isnan(last), np.inf, last)))  # first of equals: lower rate
    finalists = sum(math.isfinite(v) for v in last)
    reason = (
        f"lowest held-out loss ({last[w]:.4g}) after {rounds[-1].steps} steps among "
        f"{finalists} finalist(s) of {len(rates)} rates"
    )
    first = [v for v in rounds[0].losses if math.isfinite(v)]
    scale = sorted(first)[len(first) // 2] - min(first)  # no arithmetic to overflow
    warnings: list[str] = []
    # The margin over the best other candidate, in the latest round that raced one.
    margins = [
        min(others) - rnd.losses[w]
        for rnd in rounds
        if (others := [v for i, v in enumerate(rnd.losses) if i != w and math.isfinite(v)])
    ]
    ratio = max(margins[-1], 0.0) / scale if margins and scale > 0 else 0.0
    ratio = 0.0 if math.isnan(ratio) else ratio  # inf / inf, from losses near the float limit
    if not margins:
        warnings.append(
            "Fewer than 2 candidates gave a finite held-out loss: the winner was compared with "
            "none. Race lower rates (a smaller `span`) so that more of them train."
        )
    elif ratio < NEAR_TIE:
        warnings.append(
            "The candidates' held-out losses are nearly identical: the race cannot tell the "
            "winner from the runner-up (either should train about as well). Raise "
            "`budget_steps` or hold out more data for a sharper answer."
        )
    confidence = ratio / (ratio + CONFIDENCE_HALF) if math.isfinite(ratio) else 1.0
    # Two candidates are both edges; from three on, an edge winner may have a better neighbour.
    if len(rates) > 2 and w in (0, len(rates) - 1):
        confidence *= 0.5
        side = "lowest" if w == 0 else "highest"
        fix = "widen `span` (or pass rates beyond it)"
        if widened[w > 0]:
            fix = "the race added rates past it, up to `widen`; raise it or race further `rates`"
        elif w > 0 and capped:
            fix = "the candidates stop at the range test's cap (its blow-up); race higher `rates`"
        warnings.append(f"The winner is the {side} candidate: the best rate may lie beyond; {fix}.")
    return rates[w], reason, float(min(max(confidence, 0.0), 1.0)), warnings


def tune_lr(
    trial: Trial,
    *,
    budget_steps: int,
    result: RangeTestResult | None = None,
    step: Callable[[float], float] | None = None,
    rates: Sequence[float] | None = None,
    for_schedule: str = "constant",
    num: int = 5,
    span: float = 1.0,
    rounds: Sequence[Round | tuple[int, float]] | None = None,
    finish: float = 1.0,
    min_steps: int = 1,
    widen: int | None = None,
    progress: bool = True,
    **sweep: Any,
) -> TuneResult:
    """Race candidate rates on held-out loss and return the winner (successive halving).

    The candidates come from a finished range test (``result``), from one run here by
    ``lrfinder.find_lr(step, **sweep)``, or are given (``rates``; with ``result`` too, the test
    is kept and its steps counted). Each round trains its candidates ``fraction x budget_steps``
    steps (at least ``min_steps``) and keeps the best ``count``; by default every candidate at a
    quarter of the budget, then the best two at all of it (3.25 trainings for 5 candidates; to
    ``finish`` of it where given). A resuming trial at a constant rate gets a middle round by
    default: every candidate at a fifth, the best three to two fifths, the best two to all of it
    (2.8 trainings for 5). Where the first round's best is the lowest or the highest candidate
    and the held-out loss still falls toward it, rates past it join the first round (``widen``).

    Args:
        trial: ``trial(lr, steps)`` trains ``steps`` steps at (peak) rate ``lr`` from the same
            snapshot every time and returns the held-out loss; NaN or inf counts as diverged.
            A trial with a ``retain(rates)`` method (:class:`ResumingTrial`) instead goes on
            from the state a candidate's last round left, where it kept one, and only the steps
            past that round are counted (a constant rate: 2.8 trainings by default).
        budget_steps: the steps of the last round: the training the race stands in for.
        result: where the candidates come from (see above): a finished range test.
        step: where the candidates come from (see above): a ``step(lr) -> loss`` to run one.
        rates: where the candidates come from (see above): the candidates themselves.
        for_schedule: how the rate is used; see :func:`candidates`.
        num: how many candidates; read only when the candidates come from a range test (a
            curve whose fall is noise gets up to ``2 * num - 1``; see :func:`candidates`).
        span: over how many decades either side of the suggestion; read only when the
            candidates come from a range test.
        rounds: ``(count, fraction)`` pairs; the first count is the number of candidates,
            counts never rise, fractions rise to 1.0.
        finish: where the default rounds' last round stops, as a fraction of ``budget_steps``
            (read only without ``rounds``; 0.5 to 1.0). The finalists' last steps are trained
            only to tell them apart; the framework adapters stop a truncated race at 0.9 when
            the winner's trained state is not kept.
        min_steps: the fewest steps any trial trains.
        widen: how many rates the race may add past an edge. Where the first round's best of
            3 or more candidates is the lowest or the highest, and the held-out loss has not
            turned there (the parabola through that side's three outermost losses, against log
            rate, opens downward or bottoms out past the edge), a rate one gap further out runs
            the first round too, never above the highest rate the range test swept before its
            loss turned NaN or inf. None: up to 2 where the candidates come from a range test
            (its suggestion can be off by more than ``span``), none with ``rates`` alone.
        progress: one tqdm bar over every trial (the range test run with ``step`` has its own).
        **sweep: options of :func:`lrfinder.find_lr` for the range test run with ``step``.

    Raises:
        NoSuggestionError: every candidate diverged, or the range test cannot place them.

    Examples:
        >>> def trial(lr, steps):  # held-out loss lowest at 1e-2
        ...     return float(np.log10(lr / 1e-2) ** 2)
        >>> r = tune_lr(trial, rates=np.logspace(-4, 0, 9), budget_steps=100, progress=False)
        >>> round(r.lr, 6), r.trainings, r.rounds[1].steps
        (0.01, 4.25, 100)
    """
    if not callable(trial):
        raise LRFinderError(
            "`trial` must be a callable trial(lr, steps) returning the held-out loss. "
            f"Received: {type(trial).__name__}"
        )
    _check_budget(budget_steps, min_steps)
    _reading(for_schedule)
    for_schedule = canonical_schedule(for_schedule)  # "onecycle" is recorded as "one_cycle"
    if step is not None and (result is not None or rates is not None):
        raise LRFinderError("Pass `step` (to run a range test) or `result`/`rates`, not both.")
    if sweep and step is None:
        raise LRFinderError(f"Range-test options need `step`. Received: {', '.join(sorted(sweep))}")
    source = "step" if step is not None else ("result" if rates is None else "rates")
    if step is not None:
        result = find_lr(step, progress=progress, **sweep)
    notes: list[str] = []
    capped = False
    if rates is not None:
        rates = _check_rates(rates)
    elif result is not None:
        rates, notes, capped = _candidates(as_result(result), for_schedule, num, span)
    else:
        raise LRFinderError(
            "`tune_lr` needs candidates: pass `result` (a range test), `step` (to run one) or "
            "`rates`."
        )
    if widen is None:
        widen = 0 if source == "rates" else WIDEN
    going_on = isinstance(trial, ResumingTrial) and for_schedule == "constant"
    plan = plan_rounds(rounds, len(rates), going_on=going_on, finish=finish)
    raced, done = race(
        trial,
        rates,
        budget_steps=budget_steps,
        rounds=plan,
        min_steps=min_steps,
        widen=widen,
        highest=math.inf if result is None else highest_swept(as_result(result)),
        progress=progress,
    )
    widened = (raced[0] < rates[0], raced[-1] > rates[-1])
    if any(widened):
        notes.append(
            f"The held-out loss still fell toward an edge of the candidates, so the race "
            f"added {len(raced) - len(rates)} rate(s) past it: the range test's suggestion "
            f"was off centre. The candidates span {raced[0]:.3g}..{raced[-1]:.3g}."
        )
    lr, reason, confidence, warnings = _decide(raced, done, capped, widened)
    return TuneResult(
        lr=lr,
        rates=raced,
        rounds=done,
        budget_steps=budget_steps,
        reason=reason,
        confidence=confidence,
        warnings=(*notes, *warnings),
        range_test=None if result is None else as_result(result),
        for_schedule=for_schedule,
        settings={
            "source": source,
            "num": num,
            "span": span,
            "rounds": [[r.count, r.fraction] for r in plan],
            "min_steps": min_steps,
            "widen": widen,
        },
    )
