"""TensorBoard: both writers, read back through TensorBoard's own event reader."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from _tracked import STEPS, tracked_curve, tracked_race

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

import lrfinder
from lrfinder.trackers import log_tensorboard


def _torch_writer(path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    return tb.SummaryWriter(log_dir=str(path))


def _tbx_writer(path):
    tbx = pytest.importorskip("tensorboardX")
    return tbx.SummaryWriter(logdir=str(path))


WRITERS = [pytest.param(_torch_writer, id="torch"), pytest.param(_tbx_writer, id="tensorboardX")]


def _read(path) -> EventAccumulator:
    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


def _scalars(events, tag):
    points = events.Scalars(tag)
    return [p.step for p in points], np.array([p.value for p in points])


def _text(events, tag) -> str:
    return events.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()


@pytest.mark.parametrize("make", WRITERS)
def test_the_curve_and_the_suggestions_come_back_from_the_event_files(tmp_path, make):
    result = tracked_curve()
    writer = make(tmp_path)
    assert log_tensorboard(result, writer) is writer
    writer.close()
    events = _read(tmp_path)
    steps, lrs = _scalars(events, "lrfinder/lr")
    assert steps == list(range(STEPS))
    np.testing.assert_allclose(lrs, result.lrs, rtol=1e-6)  # stored as float32
    steps, losses = _scalars(events, "lrfinder/loss")
    assert steps == list(range(STEPS - 1))  # the NaN that stopped the test is left out
    np.testing.assert_allclose(losses, result.losses[:-1], rtol=1e-6)
    assert _scalars(events, "lrfinder/val_loss")[0] == list(range(0, STEPS, 10))
    np.testing.assert_allclose(
        _scalars(events, "lrfinder/lr_group_1")[1], result.group_lrs[:, 1], rtol=1e-6
    )
    fall = lrfinder.suggest(result)
    steps, values = _scalars(events, "lrfinder/suggested_lr/fall")
    assert steps == [fall.index]
    np.testing.assert_allclose(values, [fall.lr], rtol=1e-6)
    table = _text(events, "lrfinder/suggestions")
    assert "fall (default)" in table and f"{fall.lr:.4g}" in table
    settings = _text(events, "lrfinder/settings")
    assert f"| lrfinder/settings/num_steps | {STEPS} |" in settings
    assert "| lrfinder/stop_reason | nonfinite |" in settings


@pytest.mark.parametrize("make", WRITERS)
def test_a_race_comes_back_from_the_event_files(tmp_path, make):
    race = tracked_race()
    writer = make(tmp_path)
    log_tensorboard(race, writer, prefix="tune")
    writer.close()
    events = _read(tmp_path)
    steps, rates = _scalars(events, "tune/race/candidate_lr")
    assert steps == [0, 1, 2, 3]
    np.testing.assert_allclose(rates, race.rates, rtol=1e-6)
    steps, losses = _scalars(events, "tune/race/held_out_loss/2")
    assert steps == [0, 1]
    np.testing.assert_allclose(losses, [0.6, 0.35], rtol=1e-6)
    np.testing.assert_allclose(_scalars(events, "tune/race/lr")[1], [race.lr], rtol=1e-6)
    assert "tune/race/held_out_loss/3" not in events.Tags()["scalars"]  # diverged at once
    assert _scalars(events, "tune/range_test/lr")[0] == list(range(STEPS))
    table = _text(events, "tune/race")
    assert "winner" in table and "diverged" in table and "round 1 (60 steps)" in table


def test_a_log_directory_gets_a_writer_that_is_closed_afterwards(tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    result = tracked_curve()
    writer = log_tensorboard(result, tmp_path / "runs")
    assert type(writer).__module__.startswith("torch.utils.tensorboard")
    assert _scalars(_read(tmp_path / "runs"), "lrfinder/lr")[0] == list(range(STEPS))


def test_without_torch_s_writer_a_log_directory_gets_tensorboardx(tmp_path, monkeypatch):
    pytest.importorskip("tensorboardX")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    writer = log_tensorboard(tracked_curve(), tmp_path)
    assert type(writer).__module__.startswith("tensorboardX")
    assert _scalars(_read(tmp_path), "lrfinder/lr")[0] == list(range(STEPS))


def test_with_neither_writer_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install "lrfinder\[tensorboard\]"'):
        log_tensorboard(tracked_curve(), tmp_path)


def test_something_else_than_a_writer_is_refused():
    with pytest.raises(
        lrfinder.LRFinderError, match="`writer` must be a TensorBoard SummaryWriter"
    ):
        log_tensorboard(tracked_curve(), 42)
