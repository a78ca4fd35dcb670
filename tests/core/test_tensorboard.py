"""TensorBoard event files (lrfinder/_core/_tensorboard.py), written by the real
torch.utils.tensorboard.SummaryWriter and read with the optional `tensorboard` package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lrfinder import RangeTestResult, ResultFileError

LRS = np.logspace(-5, 0, 40)
LOSSES = 2.0 - np.linspace(0, 1, 40) ** 2


def write_run(folder: Path, tags: dict[str, np.ndarray]) -> Path:
    pytest.importorskip("tensorboard")
    tb = pytest.importorskip("torch.utils.tensorboard")
    writer = tb.SummaryWriter(str(folder))
    for step in range(LRS.size):
        for tag, values in tags.items():
            writer.add_scalar(tag, float(values[step]), step)
    writer.close()
    return folder


def test_a_run_folder_and_its_event_file_load(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {"lr": LRS, "Loss/train": LOSSES, "accuracy": LOSSES})
    r = RangeTestResult.load(run)
    # TensorBoard stores float32
    np.testing.assert_allclose(r.lrs, LRS, rtol=1e-6)
    np.testing.assert_allclose(r.losses, LOSSES, rtol=1e-6)
    (event,) = run.iterdir()
    assert "tfevents" in event.name
    assert RangeTestResult.load(event) == r


def test_tags_are_named_when_they_cannot_be_guessed(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {"opt/rate": LRS, "objective": LOSSES})
    with pytest.raises(ResultFileError, match=r"Which scalar tag is the lr\? Found none.*--lr-col"):
        RangeTestResult.load(run)
    r = RangeTestResult.load(run, lr_col="opt/rate", loss_col="objective")
    assert r.steps == LRS.size
    with pytest.raises(ResultFileError, match=r"No scalar tag 'nope' \(--loss-col\)"):
        RangeTestResult.load(run, lr_col="opt/rate", loss_col="nope")


def test_without_tensorboard_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "events.out.tfevents.1.host"
    event.write_bytes(b"\x00" * 16)
    # import tensorboard fails, whether or not an earlier test imported it
    for name in ("tensorboard", "tensorboard.backend.event_processing.event_accumulator"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ResultFileError, match=r"needs tensorboard: pip install 'lrfinder\[tens"):
        RangeTestResult.load(event)


def test_a_folder_without_events_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match=r"it is a directory"):
        RangeTestResult.load(tmp_path)


def test_events_without_scalars(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {})
    with pytest.raises(ResultFileError, match=r"No scalar was logged in .*run"):
        RangeTestResult.load(run)
