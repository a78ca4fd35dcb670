"""RangeTestResult.val_losses: stored beside the training loss, saved, loaded, read as a curve."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lrfinder import LRFinderError, RangeTestResult

NAN = math.nan


def result(val: list[float] | None) -> RangeTestResult:
    return RangeTestResult(
        lrs=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        losses=[2.0, 1.8, 1.0, 0.9, 5.0],
        group_lrs=[[1e-4, 1e-3], [1e-3, 1e-2], [1e-2, 1e-1], [1e-1, 1.0], [1.0, 10.0]],
        stop_reason="diverged",
        settings={"smooth_beta": 0.5},
        val_losses=val,
    )


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_val_losses_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    r = result([2.1, NAN, 1.2, NAN, math.inf])
    loaded = RangeTestResult.load(r.save(tmp_path / f"r{suffix}"))
    assert loaded.val_losses is not None
    assert np.array_equal(loaded.val_losses, r.val_losses, equal_nan=True)
    if suffix == ".json":
        assert loaded == r


def test_results_without_validation_are_written_as_before() -> None:
    r = result(None)
    assert "val_losses" not in r.to_dict()
    assert "val_loss" not in r.to_csv().partition("\n")[0]
    assert RangeTestResult.from_csv(r.to_csv()).val_losses is None
    assert r != result([1.0] * 5)
    assert result([1.0] * 5) != result([1.0, 1.0, 1.0, 1.0, 2.0])


def test_validation_curve_keeps_measured_steps_with_their_rates() -> None:
    r = result([2.1, NAN, 1.2, NAN, math.inf])
    view = r.validation_curve()
    assert np.array_equal(view.lrs, [1e-4, 1e-2, 1.0])
    assert np.array_equal(view.losses, [2.1, 1.2, math.inf])
    assert np.array_equal(view.group_lrs, r.group_lrs[[0, 2, 4]])
    assert view.stop_reason == r.stop_reason and view.settings["curve"] == "validation"
    expected = RangeTestResult(lrs=view.lrs, losses=view.losses, settings={"smooth_beta": 0.5})
    assert np.array_equal(view.smoothed_losses, expected.smoothed_losses, equal_nan=True)


@pytest.mark.parametrize("val", [None, [NAN] * 5])
def test_validation_curve_needs_validation_losses(val: list[float] | None) -> None:
    with pytest.raises(LRFinderError, match=r"no validation losses.*val_data="):
        result(val).validation_curve()


def test_val_losses_need_one_value_per_step() -> None:
    with pytest.raises(LRFinderError, match=r"`val_losses` must have one value per step"):
        result([1.0, 2.0])
    with pytest.raises(LRFinderError, match=r"`val_losses` must have 1 dimension"):
        result([[1.0]] * 5)  # type: ignore[list-item]
