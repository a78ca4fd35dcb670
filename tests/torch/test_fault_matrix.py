"""The fault matrix: every way a range test can end, on every kind of setup, with either
snapshot, and each time every piece of state comes back bit for bit.

Outcomes: finished, diverged, NaN, an error in the loss, an error in the data, Ctrl-C, SIGTERM
(in process: the re-delivery of SIGTERM is recorded instead of ending pytest; a real SIGTERM
ends a subprocess in test_faults.py). Setups: BatchNorm + dropout, lazy modules, a frozen part,
parameter groups, LR schedulers, a GradScaler (CPU), gradient accumulation.
"""

from __future__ import annotations

import math
import signal
import threading
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrfinder._core._signals as signals_module  # noqa: E402
import lrfinder.torch as lft  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402

F = nn.functional
OUTCOMES = ["finished", "diverged", "nan", "loss raises", "data raises", "ctrl-c", "sigterm"]
SETUPS = ["bn+dropout", "lazy", "frozen", "groups", "schedulers", "scaler", "accumulation"]
AT = 5  # the call (or batch) at which a fault strikes


class Boom(Exception):
    pass


class Data:
    """Eight re-iterable batches; with ``fail``, the AT-th batch served raises."""

    def __init__(self, fail: bool) -> None:
        g = torch.Generator().manual_seed(1)
        self.batches = [
            (torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)) for _ in range(8)
        ]
        self.fail, self.served = fail, 0

    def __iter__(self) -> Any:
        for batch in self.batches:
            self.served += 1
            if self.fail and self.served == AT:
                raise Boom("in the data")
            yield batch


def build(setup: str) -> tuple[nn.Module, torch.optim.Optimizer, dict[str, Any], list[Any]]:
    """The model, its optimizer, find_lr's extra options and the extras to capture."""
    torch.manual_seed(0)
    options: dict[str, Any] = {}
    extras: list[Any] = []
    if setup == "bn+dropout":
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.3), nn.Linear(8, 1))
    elif setup == "lazy":
        model = nn.Sequential(nn.LazyLinear(8), nn.Tanh(), nn.LazyLinear(1))
    else:
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    if setup == "frozen":
        model[0].requires_grad_(False)
    if setup == "groups":
        opt: torch.optim.Optimizer = torch.optim.Adam(
            [{"params": model[0].parameters(), "lr": 1e-3}, {"params": model[2].parameters()}],
            lr=1e-2,
        )
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if setup == "schedulers":
        step_lr = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        extras.append(step_lr)
        options["schedulers"] = [step_lr]
    if setup == "scaler":
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
        extras.append(scaler)
        options["scaler"] = scaler
    if setup == "accumulation":
        options["accumulation_steps"] = 2
    if setup == "lazy":
        with torch.no_grad():  # initialised (in eval mode, no draws) before the state is taken
            model.eval()
            model(torch.zeros(2, 4))
            model.train()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    F.mse_loss(model(x), y).backward()  # optimizer state, gradients and counters to restore
    opt.step()
    for scheduler in extras[:1] if setup == "schedulers" else []:
        scheduler.step()
    return model, opt, options, extras


def step_fn_for(outcome: str) -> Any:
    calls = [0]

    def step_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        calls[0] += 1
        loss = F.mse_loss(model(batch[0]), batch[1])
        if calls[0] == AT:
            if outcome == "loss raises":
                raise Boom("in the loss")
            if outcome == "ctrl-c":
                raise KeyboardInterrupt
            if outcome == "sigterm":
                signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
            if outcome == "nan":
                return loss * math.nan
        if outcome == "diverged" and calls[0] >= AT:
            return loss * 10.0 ** calls[0]  # the loss leaps; its gradients still flow
        return loss

    return step_fn


EXPECTED = {
    "finished": "completed",
    "diverged": "diverged",
    "nan": "nonfinite",
    "loss raises": Boom,
    "data raises": Boom,
    "ctrl-c": KeyboardInterrupt,
    "sigterm": signals_module.Terminated,
}


@pytest.mark.parametrize("place", ["memory", "disk"])
@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_outcome_on_every_setup_restores_bit_for_bit(
    outcome: str, setup: str, place: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    delivered: list[int] = []
    monkeypatch.setattr(signals_module.signal, "raise_signal", delivered.append)
    model, opt, options, extras = build(setup)
    before = capture(model, opt, *extras)
    data = Data(fail=outcome == "data raises")
    run = {"step_fn": step_fn_for(outcome), "snapshot": place, "progress": False, **options}
    run.update(start_lr=1e-4, end_lr=1e-2, num_steps=12)
    expected = EXPECTED[outcome]
    if isinstance(expected, str):
        result = lft.find_lr(model, opt, data, **run)
        assert result.stop_reason == expected
    else:
        with pytest.raises(expected):
            lft.find_lr(model, opt, data, **run)
    assert_same(capture(model, opt, *extras), before)
    assert delivered == ([signal.SIGTERM] if outcome == "sigterm" else [])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert list(tmp_path.glob("lrfinder-*")) == []  # no snapshot left in the temporary directory
