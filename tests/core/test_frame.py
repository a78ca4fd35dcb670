"""result.to_pandas(): the CSV's table as a DataFrame; a clear error without pandas."""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pytest

import lrfinder
from _tracked import STEPS, tracked_curve, tracked_race

pd = pytest.importorskip("pandas")


def test_the_frame_holds_the_csv_s_columns_and_values():
    result = tracked_curve()
    frame = result.to_pandas()
    from_csv = pd.read_csv(io.StringIO(result.to_csv()), index_col="step", comment="#")
    assert list(frame.columns) == list(from_csv.columns)
    assert frame.index.name == "step" and list(frame.index) == list(range(STEPS))
    pd.testing.assert_frame_equal(frame, from_csv, check_exact=True, check_index_type=False)
    np.testing.assert_array_equal(frame["lr"].to_numpy(), result.lrs)
    assert math.isnan(frame["loss"].iloc[-1])  # the NaN that stopped the test is kept


def test_the_frame_is_a_copy_the_user_may_change():
    result = lrfinder.RangeTestResult(lrs=[1e-3, 1e-2], losses=[2.0, 1.5])
    frame = result.to_pandas()
    assert list(frame.columns) == ["lr", "loss", "smoothed_loss", "lr_group_0"]
    frame.loc[0, "loss"] = 99.0
    assert result.losses[0] == 2.0


def test_a_race_as_a_frame_has_one_row_per_candidate_raced_in_each_round():
    race = tracked_race()
    frame = race.to_pandas()
    assert list(frame.columns) == ["round", "steps", "candidate", "lr", "held_out_loss", "winner"]
    assert len(frame) == 4 + 2  # round 1 raced two candidates
    last = frame[frame["round"] == 1]
    assert list(last["lr"]) == [3e-3, 1e-2] and list(last["held_out_loss"]) == [0.3, 0.35]
    assert list(frame[frame["winner"]]["lr"].unique()) == [race.lr]
    assert frame["held_out_loss"].iloc[3] == math.inf  # diverged


@pytest.mark.parametrize("make", [tracked_curve, tracked_race])
def test_without_pandas_the_error_says_how_to_install_it(monkeypatch, make):
    obj = make()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"needs pandas.*pip install \"lrfinder\[pandas\]\""):
        obj.to_pandas()
