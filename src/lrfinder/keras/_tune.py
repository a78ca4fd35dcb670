"""tune_lr for Keras 3: the race of candidate rates on held-out loss, each trial through the
model's own ``fit`` from one snapshot, scored by ``evaluate``; nothing left behind."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Unpack

import keras

from .._core._checks import check_count
from .._core._errors import LRFinderError
from .._core._rangetest import SweepOptions
from .._core._result import RangeTestResult
from .._tuning._race import Round
from .._tuning._race_result import TuneResult
from .._tuning._trial import (
    ScheduleShape,
    check_race_options,
    check_schedule,
    run_race,
    runs_range_test,
    shortened_schedule,
)
from ..schedules._basic import Schedule
from ._find import _checked_optimizer, _Snapshot, find_lr, fit_with, one_batch_per_call
from ._rates import Rates, host, rate_setter

# Without validation_data, this share of the arrays' last samples is held out (as Keras's own
# validation_split does) and never trained on.
VALIDATION_SPLIT = 0.1


class _TrialCallback(keras.callbacks.Callback):
    """Sets the schedule's rate before every batch and ends ``fit`` after ``steps`` batches, or
    as soon as a loss turns NaN/inf (one batch later where ``setter`` can read late: see
    ``fit_with``)."""

    def __init__(self, schedule: Schedule, steps: int, setter: Rates) -> None:
        super().__init__()
        self.schedule, self.steps, self.setter = schedule, steps, setter
        self.late = setter.deferrable
        self.done = 0
        self.diverged = False
        self._pending: Any = None

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.setter.set(self.schedule(self.done))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.done += 1
        loss = (logs or {}).get("loss", math.nan)
        if self.late:
            loss, self._pending = self._pending, loss
        self._check(loss)
        if self.diverged or self.done >= self.steps:
            self.setter.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._check(self._pending)

    def _check(self, loss: Any) -> None:
        if loss is not None and not math.isfinite(float(host(loss))):
            self.diverged = True


def _split(x: Any, y: Any, sample_weight: Any) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """Hold out the last VALIDATION_SPLIT of the arrays: the training part, and the held-out."""
    n = len(x)
    cut = n - max(1, round(n * VALIDATION_SPLIT))
    if cut < 1:
        raise LRFinderError(
            f"`x` has {n} samples, too few to hold any out for scoring. Pass `validation_data`."
        )
    train = {"x": x[:cut], "y": y[:cut]}
    held: tuple[Any, ...] = (x[cut:], y[cut:])
    if sample_weight is not None:
        train["sample_weight"] = sample_weight[:cut]
        held = (*held, sample_weight[cut:])
    return train, held


def tune_lr(
    model: keras.Model,
    x: Any = None,
    y: Any = None,
    *,
    total_steps: int,
    validation_data: Any = None,
    dataset: Any = None,
    batch_size: int = 32,
    sample_weight: Any = None,
    shuffle: bool = True,
    for_schedule: str | ScheduleShape = "constant",
    result: RangeTestResult | None = None,
    rates: Sequence[float] | None = None,
    num: int = 5,
    span: float = 1.0,
    rounds: Sequence[Round | tuple[int, float]] | None = None,
    keep: str = "initial",
    shorten: str = "truncate",
    widen: int | None = None,
    progress: bool = True,
    **sweep: Unpack[SweepOptions],
) -> TuneResult:
    """Find the rate that trains best on held-out loss: a range test, then a race around it.

    The range test (:func:`find_lr`, run here unless ``result`` or ``rates`` is given) narrows
    the rate; a handful of candidates around its suggestion are then trained through the model's
    own ``fit``, from the same snapshot, with the schedule you will train with, each scored by
    ``evaluate`` on held-out data, and the weak ones are dropped early (successive halving; see
    :func:`lrfinder.tune_lr`). Every weight, optimizer and metric variable and the RNGs are put
    back exactly at the end, also on error, unless ``keep="winner"``.

    Args:
        model: as for :func:`find_lr`.
        x: as for :func:`find_lr`.
        y: as for :func:`find_lr`.
        dataset: as for :func:`find_lr`.
        batch_size: as for :func:`find_lr`.
        sample_weight: as for :func:`find_lr`.
        shuffle: as for :func:`find_lr`.
        total_steps: the length of the training the race stands in for, in batches as ``fit``
            counts them; the last round trains this many.
        validation_data: what ``evaluate`` scores every trial on: ``(x_val, y_val)`` (a fixed
            subset: it runs once per trial) or a dataset. Without it, the last 10% of ``x`` and
            ``y`` are held out and never trained on.
        for_schedule: ``"constant"``, ``"one_cycle"`` (the rate is the peak),
            ``"cosine_annealing"``, or any ``shape(lr, steps) -> Schedule``, shortened for each
            trial as ``shorten`` says.
        result: see :func:`lrfinder.torch.tune_lr`.
        rates: see :func:`lrfinder.torch.tune_lr`.
        num: see :func:`lrfinder.torch.tune_lr`.
        span: see :func:`lrfinder.torch.tune_lr`.
        rounds: see :func:`lrfinder.torch.tune_lr`.
        keep: ``"initial"`` puts the model back; ``"winner"`` keeps the winner's state after its
            last round over all of ``total_steps``.
        shorten: ``"truncate"`` (the default: a short trial runs the schedule's first steps
            over ``total_steps``, and with ``keep="initial"`` the default race's finalists stop
            at nine tenths of it) or ``"compress"`` (the whole schedule fitted into a short
            trial's steps); see :func:`lrfinder.torch.tune_lr`. Every Keras trial trains from
            the snapshot either way (``fit`` starts a new pass over the data).
        widen: up to how many rates the race adds past an edge of the candidates, where the first
            round's best is the lowest or the highest and its held-out loss has not turned there
            (see :func:`lrfinder.tune_lr`), never above the range test's blow-up; each runs the
            first round like the others. None (the default): 2 where the candidates come from the
            range test and ``validation_data`` is given; 0 with ``rates``, or without
            ``validation_data`` (a score on samples held out of the training arrays is less sure).
        progress: progress bars for the range test and the race.
        **sweep: the range test's sweep (:class:`lrfinder.SweepOptions`).

    Returns:
        A :class:`lrfinder.TuneResult`.
    """
    if (x is None) == (dataset is None):
        raise LRFinderError(
            "Pass either `x` (with `y`) or `dataset`, not both and not neither. Received: "
            f"x={type(x).__name__}, dataset={type(dataset).__name__}"
        )
    if keep not in ("initial", "winner"):
        raise LRFinderError(f"`keep` must be 'initial' or 'winner'. Received: keep={keep!r}")
    check_count("total_steps", total_steps)
    shorten = check_schedule(for_schedule, shorten, total_steps)
    check_race_options(num, span, rounds, rates, widen)
    _checked_optimizer(model)
    if dataset is not None:
        if validation_data is None:
            raise LRFinderError(
                "With `dataset`, pass `validation_data` to score the race on: batches held out "
                "from training. Received: validation_data=None."
            )
        data: dict[str, Any] = {"x": dataset, "shuffle": False}
        held: Any = validation_data
    elif validation_data is None:
        data, held = _split(x, y, sample_weight)
        data.update(batch_size=batch_size, shuffle=shuffle)
    else:
        data = {"x": x, "y": y, "batch_size": batch_size, "sample_weight": sample_weight}
        data["shuffle"] = shuffle
        held = validation_data
    evaluation: dict[str, Any] = {"x": held, "batch_size": batch_size}
    if isinstance(held, tuple):
        evaluation = {"x": held[0], "y": held[1], "batch_size": batch_size}
        if len(held) > 2:
            evaluation["sample_weight"] = held[2]
    if runs_range_test(result, rates, sweep):
        if dataset is not None:
            result = find_lr(model, dataset=dataset, progress=progress, **sweep)
        else:
            train = {k: v for k, v in data.items() if k not in ("x", "y")}
            result = find_lr(model, data["x"], data["y"], progress=progress, **train, **sweep)

    if not model.optimizer.built:
        # Built now, as fit would build it (zero moments, iterations 0), so the snapshot holds
        # every optimizer variable and no trial's moments reach the next.
        model.optimizer.build(model.trainable_variables)
    snap = _Snapshot(model)
    best: dict[str, Any] = {"loss": math.inf, "lr": None, "state": None}

    def trial(lr: float, steps: int) -> float:
        snap.restore()
        with rate_setter(model) as setter:
            schedule = shortened_schedule(for_schedule, shorten, lr, steps, total_steps)
            callback = _TrialCallback(schedule, steps, setter)
            # Every epoch has a batch, so `steps` epochs are enough; the callback ends fit.
            fit_with(model, callback, late=callback.late, **data, epochs=steps)
        if callback.diverged:
            return math.inf
        score = float(model.evaluate(**evaluation, verbose=0, return_dict=True)["loss"])
        if keep == "winner" and steps == total_steps and score < best["loss"]:
            best.update(loss=score, lr=lr, state=_Snapshot(model))
        return score if math.isfinite(score) else math.inf

    kept = False
    try:
        with one_batch_per_call(model):
            tuned = run_race(
                trial,
                total_steps=total_steps,
                result=result,
                rates=rates,
                for_schedule=for_schedule,
                num=num,
                span=span,
                rounds=rounds,
                progress=progress,
                framework="keras",
                backend=keras.config.backend(),
                keep=keep,
                held_out="split" if validation_data is None else "validation_data",
                shorten=shorten,
                widen=widen,
            )
        if keep == "winner":
            if best["lr"] != tuned.lr:
                raise LRFinderError(
                    "`keep='winner'` needs the winner trained over all of `total_steps` in the "
                    "last round; the model was put back as it was. End `rounds` with a fraction "
                    f"of 1.0 (the default rounds do). Received: rounds={rounds!r}"
                )
            best["state"].restore()
            kept = True
    finally:
        if not kept:
            snap.restore()
    return tuned
