"""Snapshot placement: host memory by default, a private temp dir on request, removed always."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import lrfinder  # noqa: E402
import lrfinder.torch as lt  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402
from lrfinder.torch._snapshot import _Stored  # noqa: E402


def setup() -> tuple[torch.nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
    F.mse_loss(model(data[0][0]), data[0][1]).backward()
    opt.step()  # Adam state and gradients exist before the test
    return model, opt, data


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temp files go to tmp_path/tmp; the working directory is tmp_path/cwd, both watched."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def test_disk_snapshot_restores_bit_for_bit_in_a_private_dir_then_removes_it(
    private_tmp: Path,
) -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    seen: list[list[Path]] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        seen.append(sorted((private_tmp / "tmp").glob("lrfinder-*/*.pt")))
        return F.mse_loss(m(batch[0]), batch[1])

    result = lt.find_lr(
        model, opt, data, step_fn=step, num_steps=10, snapshot="disk", progress=False
    )
    assert_same(capture(model, opt), before)
    assert result.settings["snapshot"] == "disk"
    # params, grads, buffers and Adam's step/exp_avg/exp_avg_sq were on disk during the test
    assert len(seen[0]) >= 3 * 4
    assert list((private_tmp / "tmp").glob("lrfinder-*")) == []  # torch may cache elsewhere
    assert list((private_tmp / "cwd").iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("place", ["memory", "disk"])
def test_an_error_mid_test_restores_and_removes_the_dir(
    private_tmp: Path, error: type[BaseException], place: str
) -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    calls = {"n": 0}

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 4:
            raise error("boom")
        return F.mse_loss(m(batch[0]), batch[1])

    with pytest.raises(error, match="boom"):
        lt.find_lr(model, opt, data, step_fn=step, snapshot=place, progress=False)
    assert_same(capture(model, opt), before)
    assert list((private_tmp / "tmp").glob("lrfinder-*")) == []  # torch may cache elsewhere
    assert list((private_tmp / "cwd").iterdir()) == []


def test_memory_snapshot_keeps_host_copies_and_disk_keeps_none() -> None:
    model, opt, _ = setup()
    for place, in_memory in (("memory", True), ("disk", False)):
        snap = lt.Snapshot(model, opt, place=place)
        stored = [s for _, s, _, _ in snap.params] + [s for _, s in snap.buffers]
        assert all(isinstance(s, _Stored) for s in stored)
        # Host memory only: never a second copy on the model's device.
        assert all((s.value is not None) == in_memory for s in stored)
        assert all(s.value.device.type == "cpu" for s in stored if s.value is not None)
        folder = snap.store.folder
        snap.close()
        assert folder is None or not folder.exists()


def test_snapshot_place_is_checked() -> None:
    model, opt, data = setup()
    with pytest.raises(lrfinder.LRFinderError, match=r"`snapshot` must be one of memory, disk"):
        lt.find_lr(model, opt, data, loss_fn=F.mse_loss, snapshot="gpu")


def test_snapshot_of_a_model_with_an_extra_object_restores_it() -> None:
    model, opt, _ = setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    before = capture(model, opt, scaler)
    snap = lt.Snapshot(model, opt, extras=[scaler], place="disk")
    scaler._scale = torch.tensor([1.0])
    scaler._growth_tracker = torch.tensor([3], dtype=torch.int32)
    scaler.extra = 1  # type: ignore[attr-defined]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    snap.restore()
    snap.close()
    assert_same(capture(model, opt, scaler), before)
    assert not hasattr(scaler, "extra")
