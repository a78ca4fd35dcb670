"""A range test and a race with every feature a tracker logs: two parameter groups, validation
losses, a NaN that stopped the test, settings, rounds with a dropped and a diverged candidate."""

from __future__ import annotations

import math

import numpy as np

from lrfinder import RangeTestResult, TuneResult
from lrfinder._tuning._race_result import RaceRound

STEPS = 60


def tracked_curve() -> RangeTestResult:
    lrs = np.logspace(-5, 0, STEPS)
    x = np.log10(lrs)
    losses = 2.0 / (1.0 + np.exp(3.0 * (x + 2.5))) + np.where(lrs > 0.2, (lrs / 0.2) ** 2 - 1, 0)
    losses[-1] = math.nan  # the step that stopped the test
    val = np.full(STEPS, math.nan)
    val[::10] = losses[::10] + 0.1
    return RangeTestResult(
        lrs=lrs,
        losses=losses,
        stop_reason="nonfinite",
        group_lrs=np.stack([lrs, lrs / 10], axis=1),
        settings={"start_lr": 1e-5, "end_lr": 1.0, "num_steps": STEPS, "mode": "exp"},
        val_losses=val,
    )


def tracked_race() -> TuneResult:
    rates = (1e-3, 3e-3, 1e-2, 3e-2)
    return TuneResult(
        lr=3e-3,
        rates=rates,
        rounds=(
            RaceRound(steps=20, losses=(0.9, 0.5, 0.6, math.inf)),
            RaceRound(steps=60, losses=(math.nan, 0.3, 0.35, math.nan)),
        ),
        budget_steps=60,
        reason="lowest held-out loss after 60 steps",
        confidence=0.7,
        warnings=("the runner-up was close",),
        range_test=tracked_curve(),
        for_schedule="onecycle",
        settings={"num": 4, "eta": 3},
    )
