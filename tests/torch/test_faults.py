"""Faults around the PyTorch range test: skipped batches, a second Ctrl-C during the restore,
SIGTERM, and the data's own random state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrfinder.torch as lft  # noqa: E402
import lrfinder.torch._snapshot as snapshot_module  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402
from lrfinder import LRFinderError, LRFinderWarning  # noqa: E402

F = nn.functional


def setup() -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(6)]
    F.mse_loss(model(data[0][0]), data[0][1]).backward()
    opt.step()  # momentum buffers and gradients to restore
    return model, opt, data


def test_a_step_that_returns_none_skips_its_batch_and_the_sweep_goes_on() -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    calls = [0]

    def step_fn(model: nn.Module, batch: Any) -> Any:
        calls[0] += 1
        if calls[0] % 4 == 0:
            return None  # Lightning's "skip this batch"
        return F.mse_loss(model(batch[0]), batch[1])

    result = lft.find_lr(
        model, opt, data, step_fn=step_fn, num_steps=20, end_lr=1e-2, progress=False
    )
    assert result.steps == 20 and calls[0] == 26  # 20 steps, and the 6 batches skipped
    assert result.settings["skipped_batches"] == [3, 6, 9, 12, 15, 18]  # the step each delayed
    assert result.lrs[0] == 1e-7  # the first step still ran at start_lr
    assert_same(capture(model, opt), before)


def test_a_step_that_skips_every_batch_is_stopped_with_a_clear_error() -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    with pytest.raises(
        LRFinderError,
        match=r"returned None \(skip this batch\) for 40 batches in a row at lr=1e-07",
    ):
        lft.find_lr(model, opt, data, step_fn=lambda m, b: None, progress=False)
    assert_same(capture(model, opt), before)


@pytest.mark.usefixtures("ctrl_c")
def test_a_second_ctrl_c_during_the_restore_waits_until_everything_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, opt, data = setup()
    before = capture(model, opt)
    real = snapshot_module._put_back
    sent = []

    def put_back(current: Any, saved: Any) -> Any:
        if not sent:  # the second Ctrl-C, early in the restore
            sent.append(True)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        return real(current, saved)

    monkeypatch.setattr(snapshot_module, "_put_back", put_back)

    def step_fn(model: nn.Module, batch: Any) -> Any:
        if len(step_fn.calls) == 3:  # type: ignore[attr-defined]
            raise KeyboardInterrupt  # the first Ctrl-C
        step_fn.calls.append(1)  # type: ignore[attr-defined]
        return F.mse_loss(model(batch[0]), batch[1])

    step_fn.calls = []  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt) as caught:
        lft.find_lr(model, opt, data, step_fn=step_fn, progress=False)
    assert sent
    # The second one was delivered after the restore, chained to the first.
    assert isinstance(caught.value.__context__, KeyboardInterrupt)
    assert_same(capture(model, opt), before)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


SIGTERM_SCRIPT = """
import os, signal, sys, torch
import lrfinder.torch as lft
import lrfinder.torch._snapshot as snapshot_module

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(6)]
before = {k: v.clone() for k, v in model.state_dict().items()}
out = sys.argv[1]
real_close = snapshot_module.Snapshot.close

def close(self):  # runs after the restore: record what the model holds then
    torch.save({"before": before, "after": model.state_dict(), "rng": torch.get_rng_state()}, out)
    real_close(self)

snapshot_module.Snapshot.close = close
calls = [0]

def step_fn(model, batch):
    calls[0] += 1
    if calls[0] == 5:
        os.kill(os.getpid(), signal.SIGTERM)
    return torch.nn.functional.mse_loss(model(batch[0]), batch[1])

rng = torch.get_rng_state()
torch.save(rng, out + ".rng")
lft.find_lr(model, opt, data, step_fn=step_fn, snapshot=sys.argv[2], progress=False)
print("find_lr returned", flush=True)
"""


@pytest.mark.parametrize("place", ["memory", "disk"])
def test_sigterm_restores_removes_the_snapshot_and_ends_the_process_as_sigterm_does(
    tmp_path: Path, place: str
) -> None:
    out = tmp_path / "state.pt"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SIGTERM_SCRIPT), str(out), place],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "find_lr returned" not in done.stdout
    state = torch.load(out, weights_only=True)
    assert_same(state["after"], state["before"])
    assert torch.equal(state["rng"], torch.load(str(out) + ".rng", weights_only=True))
    assert list(scratch.iterdir()) == []  # the disk snapshot's folder is gone


def test_a_loaders_own_generator_comes_back() -> None:
    model, opt, _ = setup()
    g = torch.Generator().manual_seed(5)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1)),
        batch_size=8,
        shuffle=True,
        generator=g,
    )
    state = g.get_state()
    lft.find_lr(model, opt, loader, loss_fn=F.mse_loss, num_steps=12, progress=False)
    assert torch.equal(g.get_state(), state)


def test_a_persistent_loader_being_iterated_is_warned_about() -> None:
    model, opt, _ = setup()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1)),
        batch_size=8,
        num_workers=1,
        persistent_workers=True,
    )
    epoch = iter(loader)
    next(epoch)
    with pytest.warns(LRFinderWarning, match=r"persistent_workers=True that is being iterated"):
        lft.find_lr(model, opt, loader, loss_fn=F.mse_loss, num_steps=5, progress=False)
    del epoch


def _lazy_and_loader() -> tuple[nn.Module, torch.optim.Optimizer, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(8), nn.Tanh(), nn.LazyLinear(1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    dataset = torch.utils.data.TensorDataset(
        torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)  # global RNG
    return model, opt, loader


def _train_one_epoch(model: nn.Module, opt: torch.optim.Optimizer, loader: Any) -> None:
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()


def test_lazy_modules_with_a_shuffling_loader_continue_as_without_the_test() -> None:
    model, opt, loader = _lazy_and_loader()
    torch.manual_seed(7)
    lft.find_lr(model, opt, loader, loss_fn=F.mse_loss, num_steps=10, end_lr=1.0, progress=False)
    _train_one_epoch(model, opt, loader)

    reference, ref_opt, ref_loader = _lazy_and_loader()
    torch.manual_seed(7)
    _train_one_epoch(reference, ref_opt, ref_loader)  # initialised by its first forward pass
    # Same weights at initialisation, same shuffle, same training: bit for bit.
    assert_same(
        [p.detach() for p in model.parameters()], [p.detach() for p in reference.parameters()]
    )
