"""lrfinder.torch.ScheduleLR: PyTorch's own schedulers as reference, exact resume mid-cycle."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from lrfinder import LRFinderError, schedules

torch = pytest.importorskip("torch")
from lrfinder.torch import ScheduleLR  # noqa: E402

STEPS = 10_000


def two_groups(lrs: tuple[float, float] = (0.1, 0.01), adam: bool = False) -> Any:
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    groups = [{"params": [a], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}]
    return torch.optim.Adam(groups) if adam else torch.optim.SGD(groups, momentum=0.9)


def trace(opt: Any, sched: Any, steps: int, key: str) -> np.ndarray:
    """``key`` (``lr``, ``momentum`` or ``beta1``) of every group at steps 0..steps-1."""
    return np.array([v[key] for v in trace_all(opt, sched, steps)])


def trace_all(opt: Any, sched: Any, steps: int) -> list[dict[str, list[float]]]:
    out = []
    for _ in range(steps):
        groups = opt.param_groups
        out.append(
            {
                "lr": [g["lr"] for g in groups],
                "momentum": [g.get("momentum", 0.0) for g in groups],
                "beta1": [g["betas"][0] if "betas" in g else 0.0 for g in groups],
            }
        )
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("adam", [False, True], ids=["sgd", "adam"])
def test_one_cycle_over_two_groups_matches_pytorch(adam: bool) -> None:
    ref_opt = two_groups(adam=adam)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=[0.3, 0.03], total_steps=STEPS)
    opt = two_groups(adam=adam)
    sched = ScheduleLR(
        opt,
        schedules.one_cycle(0.3, total_steps=STEPS),
        momentum=schedules.one_cycle_momentum(total_steps=STEPS),
    )
    got, want = trace_all(opt, sched, STEPS), trace_all(ref_opt, ref, STEPS)
    for key in ("lr", "beta1" if adam else "momentum"):
        np.testing.assert_allclose(
            [g[key] for g in got], [w[key] for w in want], rtol=1e-12, atol=0, err_msg=key
        )


def test_momentum_follows_its_schedule_in_every_group() -> None:
    opt = two_groups(adam=True)
    m = schedules.one_cycle_momentum(total_steps=500)
    sched = ScheduleLR(opt, schedules.one_cycle(0.3, total_steps=500), momentum=m)
    got = trace(opt, sched, 500, "beta1")
    want = schedules.tabulate(m, 500)
    np.testing.assert_array_equal(got, np.stack([want, want], axis=1))


def test_groups_keep_their_ratio() -> None:
    opt = two_groups((0.2, 0.05))
    sched = ScheduleLR(opt, schedules.cyclic(1e-3, 0.1, step_size=50, mode="triangular2"))
    lrs = trace(opt, sched, 400, "lr")
    np.testing.assert_allclose(lrs[:, 1] / lrs[:, 0], 0.25, rtol=1e-14)


def train(model: Any, opt: Any, sched: Any, steps: range, data: Any) -> list[float]:
    lrs = []
    x, y = data
    for i in steps:
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x[i % 8 :: 8]), y[i % 8 :: 8])
        loss.backward()
        opt.step()
        sched.step()
    return lrs


def build(seed: int = 0) -> tuple[Any, Any, Any]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.05},
            {"params": model[2].parameters(), "lr": 0.01},
        ],
        momentum=0.9,
    )
    total = 1200
    sched = ScheduleLR(
        opt,
        schedules.one_cycle(0.05, total_steps=total, three_phase=True),
        momentum=schedules.one_cycle_momentum(total_steps=total, three_phase=True),
    )
    return model, opt, sched


def test_resumes_mid_cycle_identically() -> None:
    gen = torch.Generator().manual_seed(1)
    data = (torch.randn(64, 4, generator=gen), torch.randn(64, 1, generator=gen))
    model, opt, sched = build()
    straight = train(model, opt, sched, range(1200), data)

    model_a, opt_a, sched_a = build()
    resumed = train(model_a, opt_a, sched_a, range(437), data)
    buffer = io.BytesIO()
    torch.save(
        {"model": model_a.state_dict(), "opt": opt_a.state_dict(), "sched": sched_a.state_dict()},
        buffer,
    )
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain data only: no pickled code
    model_b, opt_b, sched_b = build(seed=123)  # different initial weights, overwritten below
    model_b.load_state_dict(saved["model"])
    opt_b.load_state_dict(saved["opt"])
    sched_b.load_state_dict(saved["sched"])
    resumed += train(model_b, opt_b, sched_b, range(437, 1200), data)

    assert resumed == straight
    assert sched_b.last_epoch == sched.last_epoch == 1200
    for p, q in zip(model.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert opt_b.param_groups[1]["momentum"] == opt.param_groups[1]["momentum"]


def test_bad_arguments() -> None:
    opt = two_groups()
    with pytest.raises(LRFinderError, match=r"`schedule` must be a function of the step"):
        ScheduleLR(opt, 0.1)  # type: ignore[arg-type]
    adagrad = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(LRFinderError, match=r"`momentum` needs an optimizer .* Received: Adagrad"):
        ScheduleLR(adagrad, schedules.constant(0.1), momentum=schedules.constant(0.9))
    with pytest.raises(LRFinderError, match=r"must be above 0. Received: lr=0.0"):
        ScheduleLR(two_groups((0.0, 0.1)), schedules.constant(0.1))
    sched = ScheduleLR(opt, schedules.constant(0.1))
    with pytest.raises(LRFinderError, match=r"Not a ScheduleLR state.*Received keys: \['foo'\]"):
        sched.load_state_dict({"foo": 1})
