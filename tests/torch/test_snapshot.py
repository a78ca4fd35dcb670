"""Snapshot placement: host memory by default (a few buffers), an unlinked temp file on request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import lrfinder  # noqa: E402
import lrfinder.torch as lt  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402
from lrfinder.torch._snapshot import _Store, _Stored  # noqa: E402


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


def left_in(folder: Path) -> list[Path]:
    """What is in ``folder``, but torch's own compile cache, which it may put there."""
    return [f for f in folder.iterdir() if not f.name.startswith("torchinductor")]


def tensor_bytes(model: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    tensors += [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    return sum(t.numel() * t.element_size() for t in tensors)


def test_disk_snapshot_restores_bit_for_bit_from_a_file_with_no_name(private_tmp: Path) -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    seen: list[list[Path]] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        seen.append(left_in(private_tmp / "tmp"))
        return F.mse_loss(m(batch[0]), batch[1])

    result = lt.find_lr(
        model, opt, data, step_fn=step, num_steps=10, snapshot="disk", progress=False
    )
    assert_same(capture(model, opt), before)
    assert result.settings["snapshot"] == "disk"
    assert seen and all(s == [] for s in seen)  # nothing in $TMPDIR, even during the test
    assert left_in(private_tmp / "tmp") == []
    assert list((private_tmp / "cwd").iterdir()) == []


def test_disk_snapshot_holds_every_tensor_in_one_unlinked_file(private_tmp: Path) -> None:
    model, opt, _ = setup()
    before = capture(model, opt)
    snap = lt.Snapshot(model, opt, place="disk")
    info = os.fstat(snap.store.file.fileno())
    assert info.st_nlink == 0  # unlinked at once: a killed process leaves nothing behind
    assert info.st_size == tensor_bytes(model, opt)  # params, grads, buffers, Adam: raw bytes
    assert left_in(private_tmp / "tmp") == []
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
            p.grad = None
    opt.state.clear()
    snap.restore()
    snap.close()
    assert snap.store.file is None
    assert_same(capture(model, opt), before)


KILLED_CHILD = """
import sys, time
import torch, torch.nn.functional as F
import lrfinder.torch as lt
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
data = [(torch.randn(8, 64), torch.randn(8, 1))] * 4

def step(m, batch):
    print("training", flush=True)
    time.sleep(60)
    return F.mse_loss(m(batch[0]), batch[1])

lt.find_lr(model, opt, data, step_fn=step, snapshot="disk", progress=False)
"""


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_a_killed_process_leaves_no_disk_snapshot_behind(tmp_path: Path, signal_name: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD], env=env, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "training"  # the snapshot is taken
            child.send_signal(getattr(signal, signal_name))
            child.wait(timeout=60)
        finally:
            child.kill()
    assert child.returncode == -getattr(signal, signal_name)
    assert left_in(tmp) == []


def grad_bytes(model: torch.nn.Module) -> int:
    return sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())


def test_memory_snapshot_packs_tensors_into_one_buffer_per_dtype(private_tmp: Path) -> None:
    model, opt, _ = setup()
    before = capture(model, opt)
    snap = lt.Snapshot(model, opt)
    buffers = snap.store.buffers
    # float32 (parameters, Adam's moments and step) and int64 (BatchNorm's count)
    assert sorted(str(b.dtype) for b in buffers) == ["torch.float32", "torch.int64"]
    held = sum(b.numel() * b.element_size() for b in buffers)
    assert held == tensor_bytes(model, opt) - grad_bytes(model)
    # The gradients, read only at the restore, sit in an unlinked file (the page cache).
    info = os.fstat(snap.store.file.fileno())
    assert info.st_size == grad_bytes(model) and info.st_nlink == 0
    assert left_in(private_tmp / "tmp") == []
    starts = {b.untyped_storage().data_ptr() for b in buffers}
    stored = [s for _, s, _, _ in snap.params] + [s for _, s in snap.buffers]
    assert all(s.value.untyped_storage().data_ptr() in starts for s in stored)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    snap.restore()
    snap.close()
    assert snap.store.buffers == []
    assert_same(capture(model, opt), before)


def test_without_a_writable_temp_dir_the_gradients_stay_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, opt, data = setup()
    before = capture(model, opt)

    def no_temp_dir(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError("read-only")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_dir)
    snap = lt.Snapshot(model, opt)
    assert snap.store.file is None
    held = sum(b.numel() * b.element_size() for b in snap.store.buffers)
    assert held == tensor_bytes(model, opt)
    lt.find_lr(model, opt, data, loss_fn=F.mse_loss, num_steps=5, progress=False)
    snap.restore()
    snap.close()
    assert_same(capture(model, opt), before)


@pytest.mark.parametrize("place", ["memory", "disk"])
def test_zero_gradients_are_kept_as_their_shape_and_signed_zeros_as_values(place: str) -> None:
    model, opt, data = setup()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    grads[0].zero_()
    grads[1].zero_()
    grads[1][0] = -0.0  # all zero by value, not by bits
    before = capture(model, opt)
    snap = lt.Snapshot(model, opt, place=place)
    kinds = [type(g).__name__ for _, _, _, g in snap.params]
    assert kinds[0] == "_Zeros"
    assert kinds[1:] == ["_Stored"] * (len(kinds) - 1)
    lt.find_lr(model, opt, data, loss_fn=F.mse_loss, num_steps=5, progress=False)
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    snap.restore()
    snap.close()
    assert_same(capture(model, opt), before)
    assert torch.equal(model[0].bias.grad.view(torch.int32), grads[1].view(torch.int32))


@pytest.mark.parametrize("place", ["memory", "disk"])
def test_tensors_that_are_not_plain_dense_come_back_equal(place: str) -> None:
    tensors = [
        torch.eye(3).to_sparse(),  # stored one by one
        torch.arange(12, dtype=torch.bfloat16).reshape(3, 4).t(),  # not contiguous, bf16
        torch.zeros(0, 5, dtype=torch.complex64),
        torch.tensor([True, False]),
        torch.tensor(7, dtype=torch.int8),
    ]
    store = _Store(place)
    stored = [store.save(t) for t in tensors]
    store.seal()
    loaded = [s.load() for s in stored]
    store.close()
    assert torch.equal(loaded[0].to_dense(), torch.eye(3))
    for original, back in zip(tensors[1:], loaded[1:], strict=True):
        assert back.dtype == original.dtype and back.shape == original.shape
        assert torch.equal(back, original)


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
    assert left_in(private_tmp / "tmp") == []
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
        snap.close()
        assert snap.store.file is None and snap.store.buffers == []


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
