"""One vocabulary for schedules (lrfinder/_core/_names.py): every spelling, old or new, maps to
the same schedule in the CLI, schedule_from, for_schedule, the race's trials and the factories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderError, schedules
from lrfinder._core._names import (
    SCHEDULE_ALIASES,
    SCHEDULE_NAMES,
    canonical_schedule,
    schedule_name,
)
from lrfinder._tuning._trial import trial_schedule
from lrfinder.schedules._cyclical import CYCLIC_MODES

LRS = np.logspace(-6, 0, 120)
LOSSES = 1 / (1 + np.exp(3 * (np.log10(LRS) + 3))) + np.where(LRS > 0.05, LRS * 30, 0)
CURVE = lrfinder.RangeTestResult(lrs=LRS, losses=LOSSES)


def test_every_name_is_a_factory_or_a_cyclic_mode() -> None:
    for name in SCHEDULE_NAMES:
        assert callable(getattr(schedules, name, None)) or name in CYCLIC_MODES, name
    assert set(SCHEDULE_ALIASES.values()) <= set(SCHEDULE_NAMES)
    assert not set(SCHEDULE_ALIASES) & set(SCHEDULE_NAMES)


@pytest.mark.parametrize(("old", "new"), sorted(SCHEDULE_ALIASES.items()))
def test_an_old_name_and_other_spellings_are_the_new_one(old: str, new: str) -> None:
    assert canonical_schedule(old) == new
    assert canonical_schedule(new.upper().replace("_", "-")) == new
    assert canonical_schedule("my_own") == "my_own"  # the race's own names pass through


def tabulate(schedule: schedules.Schedule, steps: int = 200) -> list[float]:
    return [schedule(i) for i in range(steps)]


@pytest.mark.parametrize("spelling", ["one_cycle", "onecycle", "One-Cycle"])
def test_for_schedule_spellings_give_one_suggestion(spelling: str) -> None:
    assert lrfinder.suggest(CURVE, for_schedule=spelling) == lrfinder.suggest(
        CURVE, for_schedule="one_cycle"
    )
    assert tabulate(trial_schedule(spelling, 0.1, 200)) == tabulate(
        trial_schedule("one_cycle", 0.1, 200)
    )


@pytest.mark.parametrize(
    ("spelling", "name"), [("cosine", "cosine_annealing"), ("onecycle", "one_cycle")]
)
def test_schedule_from_and_the_race_accept_the_old_names(spelling: str, name: str) -> None:
    old = lrfinder.schedule_from(CURVE, spelling, total_steps=200)
    new = lrfinder.schedule_from(CURVE, name, total_steps=200)
    assert old.policy == new.policy == name
    assert dict(old.bounds) == dict(new.bounds) and tabulate(old) == tabulate(new)
    assert tabulate(trial_schedule(spelling, 0.1, 50), 50) == tabulate(
        trial_schedule(name, 0.1, 50), 50
    )
    tuned = lrfinder.tune_lr(
        lambda lr, steps: float(np.log10(lr / 1e-2) ** 2),
        rates=[1e-3, 1e-2, 1e-1],
        budget_steps=10,
        for_schedule=spelling,
        progress=False,
    )
    assert tuned.for_schedule == canonical_schedule(spelling)


def test_a_name_that_is_not_allowed_lists_the_names_and_their_old_spellings() -> None:
    with pytest.raises(
        LRFinderError,
        match=r"`for_schedule` must be one of constant, one_cycle \(or the older onecycle\). "
        r"Received: for_schedule='cosine'",
    ):
        schedule_name("cosine", ("constant", "one_cycle"), what="for_schedule")


@pytest.mark.parametrize(("old", "new"), sorted(SCHEDULE_ALIASES.items()))
def test_the_command_line_draws_the_same_schedule_for_both_names(
    old: str, new: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    from lrfinder.cli import main

    flags = {
        "step_decay": ["--lr", "0.1", "--step-size", "30"],
        "multistep_decay": ["--lr", "0.1", "--milestones", "30,60"],
        "exponential_decay": ["--lr", "0.1", "--gamma", "0.99"],
        "cosine_annealing": ["--lr", "0.1"],
        "cosine_warm_restarts": ["--lr", "0.1", "--t0", "20"],
        "one_cycle": ["--max-lr", "0.1"],
    }[new]
    printed = []
    for name in (old, new):
        out = tmp_path / f"{name}.png"
        assert main(["schedule", name, *flags, "--steps", "100", "-o", str(out)]) == 0
        printed.append(capsys.readouterr().out.splitlines()[0])
    assert printed[0] == printed[1] == f"{new} over 100 steps"
    assert (tmp_path / f"{old}.png").read_bytes() == (tmp_path / f"{new}.png").read_bytes()
