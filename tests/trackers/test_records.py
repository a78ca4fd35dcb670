"""What a tracker logs, before any tracker: checked against the result it came from."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import lrfinder
from _tracked import STEPS, tracked_curve, tracked_race
from lrfinder._core._suggestion import quiet_suggest_all
from lrfinder.trackers._records import race_records, range_records, records


def _by_tag(rec):
    return {s.tag: s for s in rec.series}


def test_a_range_test_logs_its_rate_as_a_series_on_integer_steps():
    result = tracked_curve()
    series = _by_tag(range_records(result))
    lr = series["lrfinder/lr"]
    assert lr.axis == "lrfinder/step"
    assert lr.steps == tuple(range(STEPS))
    assert all(isinstance(s, int) for s in lr.steps)
    np.testing.assert_array_equal(lr.values, result.lrs)
    # the NaN that stopped the test is not a point of the curve
    assert series["lrfinder/loss"].steps == tuple(range(STEPS - 1))
    np.testing.assert_array_equal(series["lrfinder/loss"].values, result.losses[:-1])
    np.testing.assert_array_equal(
        series["lrfinder/smoothed_loss"].values, result.smoothed_losses[:-1]
    )
    assert series["lrfinder/val_loss"].steps == tuple(range(0, STEPS, 10))
    np.testing.assert_array_equal(series["lrfinder/lr_group_1"].values, result.group_lrs[:, 1])


def test_one_group_logs_no_group_series():
    result = lrfinder.RangeTestResult(lrs=[1e-3, 1e-2, 1e-1], losses=[2.0, 1.0, 3.0])
    assert sorted(_by_tag(range_records(result))) == [
        "lrfinder/loss",
        "lrfinder/lr",
        "lrfinder/smoothed_loss",
    ]


def test_every_rule_s_suggestion_is_logged_at_its_step_and_in_the_table():
    result = tracked_curve()
    rec = range_records(result)
    expected = quiet_suggest_all(result)
    found = {n: s for n, s in expected.items() if isinstance(s, lrfinder.Suggestion)}
    assert found  # the curve has suggestions to log
    for name, s in found.items():
        assert rec.summary[f"lrfinder/suggested_lr/{name}"] == (s.lr, s.index)
    table = rec.tables["suggestions"]
    assert [row[0].split(" ")[0] for row in table.rows] == list(expected)
    default = next(row for row in table.rows if row[0] == f"{lrfinder.DEFAULT_METHOD} (default)")
    assert default[1] == found[lrfinder.DEFAULT_METHOD].lr
    assert "| method | lr | step |" in table.markdown()


def test_settings_are_flat_strings_and_the_result_comes_back_from_its_document():
    result = tracked_curve()
    rec = range_records(result, prefix="lr_find/run1")
    assert rec.params["lr_find/run1/settings/num_steps"] == str(STEPS)
    assert rec.params["lr_find/run1/settings/mode"] == "exp"
    assert rec.params["lr_find/run1/stop_reason"] == "nonfinite"
    assert all(isinstance(v, str) for v in rec.params.values())
    back = lrfinder.RangeTestResult.from_dict(json.loads(rec.documents["range_test.json"]))
    assert back == result


def test_a_race_logs_candidates_held_out_losses_by_round_and_the_winner():
    race = tracked_race()
    rec = race_records(race)
    series = _by_tag(rec)
    cand = series["lrfinder/race/candidate_lr"]
    assert cand.axis == "lrfinder/race/candidate"
    assert cand.steps == (0, 1, 2, 3) and cand.values == race.rates
    # candidate 0 was dropped after round 0; candidate 3 diverged in round 0: no point
    assert series["lrfinder/race/held_out_loss/0"].steps == (0,)
    assert series["lrfinder/race/held_out_loss/1"].values == (0.5, 0.3)
    assert "lrfinder/race/held_out_loss/3" not in series
    assert series["lrfinder/race/round_steps"].values == (20.0, 60.0)
    assert rec.summary["lrfinder/race/lr"] == (3e-3, 0)
    assert rec.summary["lrfinder/race/winner"] == (1.0, 0)
    assert rec.summary["lrfinder/race/trainings"][0] == pytest.approx(race.trainings)
    rows = rec.tables["race"].rows
    assert rows[1][-1] == "winner" and rows[0][3] is None and rows[3][2] == math.inf
    assert "diverged" in rec.tables["race"].markdown()
    assert rec.params["lrfinder/race/for_schedule"] == "onecycle"
    # the range test the candidates came from, under its own prefix and axis
    assert series["lrfinder/range_test/lr"].axis == "lrfinder/range_test/step"
    assert "lrfinder/range_test/suggested_lr/fall" in rec.summary
    assert lrfinder.TuneResult.from_dict(json.loads(rec.documents["race.json"])) == race


def test_records_dispatches_on_the_result_type():
    assert "race.json" in records(tracked_race()).documents
    assert "range_test.json" in records(tracked_curve()).documents


@pytest.mark.parametrize("prefix", ["", "/lrfinder", "lrfinder/", " x", 3])
def test_a_bad_prefix_is_refused(prefix):
    with pytest.raises(lrfinder.LRFinderError, match="`prefix` must be a non-empty name"):
        range_records(tracked_curve(), prefix=prefix)


def test_anything_else_is_refused():
    with pytest.raises(lrfinder.LRFinderError, match="`result` must be a RangeTestResult"):
        records([1, 2])  # type: ignore[arg-type]
    with pytest.raises(lrfinder.LRFinderError, match="`result` must be a TuneResult"):
        race_records(tracked_curve())  # type: ignore[arg-type]


def test_importing_the_trackers_loads_no_tracker():
    code = (
        "import sys, lrfinder.trackers\n"
        "heavy = {'torch', 'tensorboard', 'tensorboardX', 'mlflow', 'wandb', 'pandas'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_curve_without_suggestions_logs_why_in_the_table():
    result = lrfinder.RangeTestResult(
        lrs=[1e-3, 1e-2], losses=[math.nan, math.nan], stop_reason="nonfinite"
    )
    rec = range_records(result)
    assert [s.tag for s in rec.series] == ["lrfinder/lr"]  # no finite loss to chart
    assert dict(rec.summary) == {}
    assert all(
        row[1] is None and row[6].startswith("no suggestion: ")
        for row in rec.tables["suggestions"].rows
    )
