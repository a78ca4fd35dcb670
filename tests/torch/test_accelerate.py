"""Hugging Face Accelerate on two CPU processes: find_lr, tune_lr and LoopRefinder on a model,
optimizer, scheduler and DataLoader that went through ``accelerator.prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lrfinder.torch as lt  # noqa: E402
from _dist import WORLD, mlp, regression, spawn  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402
from lrfinder import LRFinderError, RefindPolicy  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")

SWEEP: dict[str, Any] = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 30}
ACCUMULATION = 2
RACE: dict[str, Any] = {"total_steps": 8, "num_steps": 30, "start_lr": 1e-4, "end_lr": 10.0}


def dataset() -> Any:
    """The examples of 8 global batches of 16, in order."""
    batches = regression(n=8)
    x = torch.cat([x for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    return torch.utils.data.TensorDataset(x, y)


def warmup(step: int) -> float:
    return min(1.0, (step + 1) / 10)


def accelerate_worker(rank: int) -> dict[str, Any]:
    from accelerate import Accelerator

    accelerator = Accelerator(
        cpu=True, mixed_precision="bf16", gradient_accumulation_steps=ACCUMULATION
    )
    model = mlp()
    dtypes: list[str] = []
    model[0].register_forward_hook(lambda _m, _i, out: dtypes.append(str(out.dtype)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup)
    # Each process reads batches of 8: rank r gets global examples 16k+8r..16k+8r+7.
    loader = torch.utils.data.DataLoader(dataset(), batch_size=16 // WORLD)
    model, opt, loader, sched = accelerator.prepare(model, opt, loader, sched)
    inner_opt, inner_sched = opt.optimizer, sched.scheduler

    backward_calls = [0]
    real_backward = accelerator.backward

    def counting_backward(loss: torch.Tensor, **kwargs: Any) -> None:
        backward_calls[0] += 1
        real_backward(loss, **kwargs)

    accelerator.backward = counting_backward  # type: ignore[method-assign]
    seen: list[tuple[float, str]] = []

    def step_fn(model: torch.nn.Module, batch: Any) -> torch.Tensor:
        out = model(batch[0])
        seen.append((float(inner_opt.param_groups[0]["lr"]), dtypes[-1]))
        return F.mse_loss(out.float(), batch[1])

    out: dict[str, Any] = {}
    with pytest.raises(LRFinderError, match="Pass it as find_lr"):
        lt.find_lr(model, opt, loader, step_fn=step_fn, progress=False, **SWEEP)
    with pytest.raises(LRFinderError, match="Received: accumulation_steps=3"):
        lt.find_lr(
            model, opt, loader, step_fn=step_fn, accelerator=accelerator, accumulation_steps=3
        )

    before = capture(model, inner_opt, inner_sched)
    iteration = loader.iteration
    result = lt.find_lr(
        model,
        opt,
        loader,
        step_fn=step_fn,
        accelerator=accelerator,
        schedulers=[sched],
        progress=False,
        **SWEEP,
    )
    assert_same(capture(model, inner_opt, inner_sched), before)
    assert loader.iteration == iteration  # the next epoch shuffles as it would have
    assert accelerator.gradient_state.active_dataloader is None  # no pass left open
    assert inner_sched.optimizer is inner_opt  # the scheduler still drives the live optimizer
    out.update(
        lrs=result.lrs,
        losses=result.losses,
        stop_reason=result.stop_reason,
        seen=seen,
        backward_calls=backward_calls[0],
    )

    tuned = lt.tune_lr(
        model,
        opt,
        loader,
        loss_fn=F.mse_loss,
        accelerator=accelerator,
        val_batches=1,
        progress=False,
        **RACE,
    )
    assert_same(capture(model, inner_opt, inner_sched), before)
    race = tuned.to_dict()
    race["range_test"].pop("timings")
    out["race"] = race

    # Accelerate's own rule, the trap: one prepared step moves the schedule once per process.
    loop = lt.LoopRefinder(
        model,
        opt,
        loader,
        loss_fn=F.mse_loss,
        scheduler=sched,
        accelerator=accelerator,
        policy=RefindPolicy(every_epochs=1, num_steps=15, initial_num_steps=40),
    )
    base_after_initial = list(inner_sched.base_lrs)
    moves, rates = [], []
    for _ in range(2):
        for x, y in loader:
            with accelerator.autocast():
                loss = F.mse_loss(model(x).float(), y)
            accelerator.backward(loss)
            opt.step()
            opt.zero_grad()
            epoch_before = inner_sched.last_epoch
            sched.step()
            moves.append(inner_sched.last_epoch - epoch_before)
            rates.append(
                (
                    inner_opt.param_groups[0]["lr"],
                    inner_sched.base_lrs[0] * warmup(inner_sched.last_epoch),
                )
            )
            loop.step_end()
        loop.epoch_end()
    out.update(
        history=[(r.trigger, r.new_lr) for r in loop.history],
        base_after_initial=base_after_initial,
        base_now=list(inner_sched.base_lrs),
        moves=moves,
        rates=rates,
    )
    return out


def single_process() -> tuple[Any, Any]:
    """The same sweep and race in one process, on global batches of 16, without Accelerate."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = torch.utils.data.DataLoader(dataset(), batch_size=16)

    def step_fn(model: torch.nn.Module, batch: Any) -> torch.Tensor:
        return F.mse_loss(model(batch[0]).float(), batch[1])

    common = {"amp": True, "amp_dtype": torch.bfloat16, "accumulation_steps": ACCUMULATION}
    result = lt.find_lr(model, opt, loader, step_fn=step_fn, progress=False, **common, **SWEEP)
    tuned = lt.tune_lr(
        model, opt, loader, loss_fn=F.mse_loss, val_batches=1, progress=False, **common, **RACE
    )
    return result, tuned.to_dict()


def test_prepared_model_optimizer_and_loader_sweep_like_one_process(tmp_path: Path) -> None:
    ranks = spawn(accelerate_worker, tmp_path, init=False)
    single, race = single_process()
    assert single.stop_reason == "diverged"
    for r in ranks:
        # The sweep is lrfinder's own, one rate per optimizer step: never world-size times faster.
        assert np.array_equal(r["lrs"], single.lrs)
        assert r["stop_reason"] == single.stop_reason
        per_micro_batch = [lr for lr, _ in r["seen"]]
        assert per_micro_batch == pytest.approx(np.repeat(r["lrs"], ACCUMULATION).tolist())
        # accelerator.autocast (bf16) ran the layers; accelerator.backward every micro-batch.
        assert {dtype for _, dtype in r["seen"]} == {"torch.bfloat16"}
        assert r["backward_calls"] == len(r["seen"])
        # bf16 rounding differs with the batch split: the curves agree closely at small rates,
        # and the difference grows as the sweep nears divergence.
        half = len(single.losses) // 2
        assert np.allclose(r["losses"][:half], single.losses[:half], rtol=1e-4)
        assert np.allclose(r["losses"], single.losses, rtol=5e-2)
        assert r["race"]["rates"] == pytest.approx(race["rates"], rel=0.05)
        # LoopRefinder rescaled the prepared scheduler through the scheduler it wraps.
        (trigger, first), *rest = r["history"]
        assert trigger == "initial" and r["base_after_initial"] == pytest.approx([first])
        assert rest and r["base_now"] == pytest.approx([rest[-1][1]])
        assert set(r["moves"]) == {WORLD}  # Accelerate steps it once per process
        assert all(lr == pytest.approx(expected) for lr, expected in r["rates"])
    assert np.array_equal(ranks[0]["losses"], ranks[1]["losses"])  # one averaged curve
    assert ranks[0]["race"] == ranks[1]["race"]
    assert ranks[0]["history"] == ranks[1]["history"]


class FakeAccelerator:
    """What lrfinder reads of an Accelerator, for the argument checks (no processes)."""

    device = torch.device("cpu")
    gradient_accumulation_steps = 1
    scaler = None

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16)


def test_accelerate_arguments_are_checked() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = regression()
    with pytest.raises(LRFinderError, match=r"must be an accelerate.Accelerator .*Received: str"):
        lt.find_lr(model, opt, data, loss_fn=F.mse_loss, accelerator="cpu")
    with pytest.raises(LRFinderError, match=r"mixed precision is the Accelerator's .*amp=True"):
        lt.find_lr(model, opt, data, loss_fn=F.mse_loss, accelerator=FakeAccelerator(), amp=True)
    # Deferred readback is not combined with the Accelerator's backward: refused, not ignored.
    with pytest.raises(LRFinderError, match=r"defer_loss=True with accelerator"):
        lt.find_lr(
            model, opt, data, loss_fn=F.mse_loss, accelerator=FakeAccelerator(), defer_loss=True
        )


def test_a_fake_accelerator_backward_and_autocast_run_every_micro_batch() -> None:
    accelerator = FakeAccelerator()
    calls: list[str] = []
    accelerator.backward = lambda loss: (calls.append("backward"), loss.backward())  # type: ignore[method-assign]
    model = mlp()
    dtypes: list[torch.dtype] = []
    model[0].register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = capture(model, opt)
    result = lt.find_lr(
        model,
        opt,
        regression(),
        loss_fn=F.mse_loss,
        accelerator=accelerator,
        progress=False,
        **SWEEP,
    )
    assert_same(capture(model, opt), before)
    assert len(calls) == result.steps
    assert set(dtypes) == {torch.bfloat16}
