"""find_lr for any loop (lrfinder/_core/_find.py): a step that returns no loss."""

from __future__ import annotations

from typing import Any

import pytest

import lrfinder
from lrfinder import LRFinderError


def test_a_step_that_returns_none_is_named_not_the_data() -> None:
    def forgot_to_return(lr: float) -> None:
        _ = (lr - 0.1) ** 2

    with pytest.raises(
        LRFinderError,
        match=r"`step` returned None at the first rate \(1e-07\), so the test recorded no loss.*"
        r"check that it ends with `return loss`",
    ):
        lrfinder.find_lr(forgot_to_return, progress=False)  # type: ignore[arg-type]


def test_the_refinder_names_a_step_that_returns_none() -> None:
    with pytest.raises(LRFinderError, match=r"`step` returned None at the first rate"):
        lrfinder.Refinder(lr=0.01).run(lambda lr: None)


def _curve(step: int) -> float:
    return 1.0 / (step + 1) if step < 12 else 50.0 * step  # falls, then blows up at step 12


@pytest.mark.parametrize(
    ("num_steps", "data", "reason"),
    [(30, 100, "diverged"), (8, 100, "completed"), (30, 5, "data_exhausted")],
)
def test_drive_deferred_records_what_drive_records_and_trains_at_most_one_step_past(
    num_steps: int, data: int, reason: str
) -> None:
    from lrfinder._core._find import drive, drive_deferred

    now = lrfinder.RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=num_steps)
    trained: list[int] = []

    def step(lr: float) -> float | None:
        if len(trained) == data:
            return None
        trained.append(now.step)
        return _curve(now.step)

    drive(now, step, progress=False)
    late = lrfinder.RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=num_steps)
    launched: list[tuple[int, tuple[float, ...]]] = []

    def launch(ahead: int) -> Any:
        if len(launched) == data:
            return "data_exhausted"
        index = late.step + ahead
        launched.append((index, late.group_lrs_at(index)))
        return lambda: _curve(index)

    drive_deferred(late, launch, progress=False)
    assert late.stop_reason == now.stop_reason == reason
    assert late.result().to_dict()["lrs"] == now.result().to_dict()["lrs"]
    assert late.result().to_dict()["losses"] == now.result().to_dict()["losses"]
    # Each step ran at its own rate, in order; one past a divergence, none past the sweep's end.
    assert [i for i, _ in launched] == list(range(len(launched)))
    assert [lrs[0] for _, lrs in launched[: now.step]] == list(now.result().lrs)
    assert len(launched) == min(now.step + (reason == "diverged"), data)
