"""Weights & Biases in offline mode: the run's .wandb file read back record by record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _tracked import STEPS, tracked_curve, tracked_race

wandb = pytest.importorskip("wandb")
import lrfinder  # noqa: E402
from _wandb_file import read_offline_run  # noqa: E402
from lrfinder.trackers import log_wandb  # noqa: E402


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An offline run under tmp_path; yields (run, its directory), finished afterwards."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run = wandb.init(project="lrfinder-tests", dir=str(tmp_path), mode="offline")
    folder = Path(run.dir).parent
    yield run, folder
    run.finish()


def test_the_curve_its_axis_the_suggestions_and_the_settings_come_back(offline):
    run, folder = offline
    result = tracked_curve()
    assert log_wandb(result, run=run) is run
    run.finish()
    back = read_offline_run(folder)
    steps, lrs = back.series("lrfinder/lr", "lrfinder/step")
    assert steps == list(range(STEPS))
    assert lrs == result.lrs.tolist()
    steps, losses = back.series("lrfinder/loss", "lrfinder/step")
    assert steps == list(range(STEPS - 1)) and losses == result.losses[:-1].tolist()
    assert back.series("lrfinder/val_loss", "lrfinder/step")[0] == list(range(0, STEPS, 10))
    assert back.step_metrics["lrfinder/lr"] == "lrfinder/step"
    assert back.step_metrics["lrfinder/smoothed_loss"] == "lrfinder/step"
    fall = lrfinder.suggest(result)
    assert back.summary["lrfinder/suggested_lr/fall"] == fall.lr
    assert back.config["lrfinder/settings/num_steps"] == STEPS
    assert back.config["lrfinder/stop_reason"] == "nonfinite"
    table = next(
        r for r in back.history if "lrfinder/suggestions" in {k.rsplit("/", 1)[0] for k in r}
    )
    assert table["lrfinder/suggestions/_type"] == "table-file"
    saved = folder / "files" / "lrfinder" / "range_test.json"
    assert lrfinder.RangeTestResult.load(saved) == result


def test_a_race_comes_back_with_its_axes(offline):
    run, folder = offline
    race = tracked_race()
    log_wandb(race, run=run, prefix="tune")
    run.finish()
    back = read_offline_run(folder)
    assert back.series("tune/race/candidate_lr", "tune/race/candidate") == (
        [0, 1, 2, 3],
        list(race.rates),
    )
    assert back.series("tune/race/held_out_loss/2", "tune/race/round") == ([0, 1], [0.6, 0.35])
    assert back.step_metrics["tune/race/held_out_loss/0"] == "tune/race/round"
    assert back.step_metrics["tune/range_test/lr"] == "tune/range_test/step"
    assert back.summary["tune/race/lr"] == race.lr
    assert back.summary["tune/race/winner"] == 1
    assert back.config["tune/race/for_schedule"] == "onecycle"
    saved = json.loads((folder / "files" / "tune" / "race.json").read_text())
    assert lrfinder.TuneResult.from_dict(saved) == race


def test_the_current_run_is_the_default(offline):
    run, _folder = offline
    assert log_wandb(tracked_curve()) is run


def test_without_a_run_the_error_says_to_start_one(monkeypatch):
    monkeypatch.setattr(wandb, "run", None)
    with pytest.raises(lrfinder.LRFinderError, match=r"Call wandb\.init\(\) first"):
        log_wandb(tracked_curve())


def test_without_wandb_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(
        ImportError, match=r'needs Weights & Biases.*pip install "lrfinder\[wandb\]"'
    ):
        log_wandb(tracked_curve())
