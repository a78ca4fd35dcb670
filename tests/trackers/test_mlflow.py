"""MLflow: a local file store under tmp_path, read back through MlflowClient."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from _tracked import STEPS, tracked_curve, tracked_race

mlflow = pytest.importorskip("mlflow")

import lrfinder  # noqa: E402
from lrfinder.trackers import log_mlflow  # noqa: E402


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A file store of its own; no run left active afterwards. MLflow 3 keeps its file store
    in maintenance mode behind MLFLOW_ALLOW_FILE_STORE; the SQLite store is tested below."""
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _history(client, run_id, key):
    points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
    return [m.step for m in points], [m.value for m in points]


def test_the_curve_the_suggestions_and_the_settings_come_back(store, tmp_path):
    result = tracked_curve()
    with mlflow.start_run() as run:
        assert log_mlflow(result) == run.info.run_id
    run_id = run.info.run_id
    steps, lrs = _history(store, run_id, "lrfinder/lr")
    assert steps == list(range(STEPS))
    np.testing.assert_array_equal(lrs, result.lrs)
    steps, losses = _history(store, run_id, "lrfinder/loss")
    assert steps == list(range(STEPS - 1))
    np.testing.assert_array_equal(losses, result.losses[:-1])
    fall = lrfinder.suggest(result)
    assert _history(store, run_id, "lrfinder/suggested_lr/fall") == ([fall.index], [fall.lr])
    params = store.get_run(run_id).data.params
    assert params["lrfinder/settings/num_steps"] == str(STEPS)
    assert params["lrfinder/stop_reason"] == "nonfinite"
    path = store.download_artifacts(run_id, "lrfinder/range_test.json", str(tmp_path))
    assert lrfinder.RangeTestResult.load(path) == result
    table = store.download_artifacts(run_id, "lrfinder/suggestions.md", str(tmp_path))
    assert "fall (default)" in Path(table).read_text(encoding="utf-8")


def test_without_an_active_run_a_run_is_made_and_ended(store):
    run_id = log_mlflow(tracked_curve(), prefix="lr_find")
    assert mlflow.active_run() is None
    run = store.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert _history(store, run_id, "lr_find/lr")[0] == list(range(STEPS))


def test_a_race_comes_back_with_its_range_test(store, tmp_path):
    race = tracked_race()
    run_id = store.create_run(store.get_experiment_by_name("Default").experiment_id).info.run_id
    assert log_mlflow(race, run_id=run_id) == run_id
    steps, rates = _history(store, run_id, "lrfinder/race/candidate_lr")
    assert steps == [0, 1, 2, 3]
    np.testing.assert_array_equal(rates, race.rates)
    assert _history(store, run_id, "lrfinder/race/held_out_loss/1") == ([0, 1], [0.5, 0.3])
    assert _history(store, run_id, "lrfinder/race/lr")[1] == [race.lr]
    assert _history(store, run_id, "lrfinder/range_test/lr")[0] == list(range(STEPS))
    params = store.get_run(run_id).data.params
    assert params["lrfinder/race/for_schedule"] == "onecycle"
    path = store.download_artifacts(run_id, "lrfinder/race.json", str(tmp_path))
    assert lrfinder.TuneResult.load(path) == race


def test_a_long_curve_is_logged_in_batches_mlflow_accepts(store):
    lrs = np.logspace(-6, 1, 1500)
    result = lrfinder.RangeTestResult(lrs=lrs, losses=1.0 + np.sin(np.arange(1500) / 50.0))
    run_id = log_mlflow(result)
    assert _history(store, run_id, "lrfinder/smoothed_loss")[0] == list(range(1500))


# MLflow's SQL store on SQLAlchemy 2.1 warns about its own queries.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_a_sqlite_store_reads_back_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.create_experiment("lr", artifact_location=(tmp_path / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            log_mlflow(tracked_curve())
        steps, lrs = _history(client, run.info.run_id, "lrfinder/lr")
        assert steps == list(range(STEPS))
        np.testing.assert_array_equal(lrs, tracked_curve().lrs)
        assert (tmp_path / "a" / run.info.run_id / "artifacts/lrfinder/range_test.json").exists()
    finally:
        mlflow.set_tracking_uri(None)


def test_without_mlflow_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r'needs MLflow.*pip install "lrfinder\[mlflow\]"'):
        log_mlflow(tracked_curve())
