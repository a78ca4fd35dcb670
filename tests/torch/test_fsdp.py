"""Fully sharded data parallel on two gloo processes: FSDP2 (`fully_shard`, DTensor parameters and
optimizer state) and FSDP1 (`FullyShardedDataParallel`, flat parameters) give the curve of one
process over the global batches, and each rank puts back its own shards bit for bit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lrfinder.torch as lt  # noqa: E402
from _dist import WORLD, mlp, regression, shard, spawn  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")

SWEEP: dict[str, Any] = {"loss_fn": F.mse_loss, "start_lr": 1e-4, "end_lr": 10.0, "num_steps": 40}


def fsdp2(model: torch.nn.Module) -> torch.nn.Module:
    from torch.distributed.fsdp import fully_shard

    for layer in (model[0], model[2]):
        fully_shard(layer)
    return fully_shard(model)


def pre_train(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Any) -> None:
    """One step first, so there are gradients and AdamW moments to put back."""
    F.mse_loss(model(batch[0]), batch[1]).backward()
    opt.step()


def snapshot_shapes(model: torch.nn.Module, opt: torch.optim.Optimizer, place: str) -> Any:
    """The type and shape of what a snapshot keeps of each parameter and each AdamW moment, and
    how many bytes its one unlinked file holds."""
    snap = lt.Snapshot(model, opt, place=place)
    try:
        kept = [value.load() for _, value, _, _ in snap.params]
        kept += [
            v.load()
            for _, _, state, _ in snap.opts
            for entries in state.values()
            for k, v in entries.items()
            if k != "step"
        ]
        file = snap.store.file
        file_bytes = 0 if file is None else os.fstat(file.fileno()).st_size
        return [(type(t).__name__, tuple(t.shape)) for t in kept], file_bytes
    finally:
        snap.close()


def fsdp2_worker(rank: int) -> dict[str, Any]:
    return {place: fsdp2_sweep(rank, place) for place in ("memory", "disk")}


def fsdp2_sweep(rank: int, place: str) -> dict[str, Any]:
    data = regression()
    model = fsdp2(mlp())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    pre_train(model, opt, shard(data, rank)[0])
    local = [(type(p.to_local()).__name__, tuple(p.to_local().shape)) for p in model.parameters()]
    moments = [
        (type(v.to_local()).__name__, tuple(v.to_local().shape))
        for p in model.parameters()
        for k, v in opt.state[p].items()
        if k != "step"
    ]
    stored, file_bytes = snapshot_shapes(model, opt, place)
    before = capture(model, opt)
    result = lt.find_lr(model, opt, shard(data[:6], rank), progress=False, snapshot=place, **SWEEP)
    assert_same(capture(model, opt), before)  # this rank's shards, grads and moments, bit for bit
    assert all(type(p).__name__ == "DTensor" for p in model.parameters())
    return {
        "lrs": result.lrs,
        "losses": result.losses,
        "stop_reason": result.stop_reason,
        "world_size": result.settings["world_size"],
        "local": local,
        "moments": moments,
        "stored": stored,
        "file_bytes": file_bytes,
        "full": [tuple(p.shape) for p in model.parameters()],
    }


def single_process_curve() -> Any:
    data = regression()
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    pre_train(model, opt, data[0])
    return lt.find_lr(model, opt, data[:6], progress=False, **SWEEP)


def test_fsdp2_ranks_snapshot_their_own_shards_and_match_one_process(tmp_path: Path) -> None:
    both = spawn(fsdp2_worker, tmp_path)
    single = single_process_curve()
    assert single.stop_reason == "diverged"
    for place in ("memory", "disk"):
        check_fsdp2(place, [r[place] for r in both], single)


def check_fsdp2(place: str, ranks: list[dict[str, Any]], single: Any) -> None:
    for r in ranks:
        assert r["world_size"] == WORLD
        # Only the shard: plain tensors of the local shapes, never a DTensor or the full tensor.
        assert r["stored"] == [("Tensor", shape) for _, shape in r["local"] + r["moments"]]
        shards = sum(int(np.prod(s)) for _, s in r["local"])
        assert shards < sum(int(np.prod(s)) for s in r["full"])
        moments = sum(int(np.prod(s)) for _, s in r["moments"])
        full = sum(int(np.prod(s)) for s in r["full"])
        if place == "disk":
            # The parameters, the gradients and the moments (and steps), each as this rank's
            # shard (float32), never the full tensors (parameters, gradients, two moments).
            assert 4 * (2 * shards + moments) <= r["file_bytes"] < 4 * 4 * full
        else:
            # In memory, only the gradients go to the file: this rank's shard of each.
            assert r["file_bytes"] == 4 * shards
        assert r["stop_reason"] == single.stop_reason
        assert np.array_equal(r["lrs"], single.lrs)  # one stop decision, at one process's step
        # The averaged shard losses are the global batch's loss, up to float rounding.
        assert np.allclose(r["losses"], single.losses, rtol=1e-4, atol=1e-6)
    assert np.array_equal(ranks[0]["losses"], ranks[1]["losses"])  # one averaged curve
    assert ranks[0]["local"] != ranks[1]["local"]  # the ranks hold different shards


RACE: dict[str, Any] = {"loss_fn": F.mse_loss, "total_steps": 12, "start_lr": 1e-4, "end_lr": 10.0}
RACE.update(num_steps=40, progress=False)


def fsdp2_race_worker(rank: int) -> dict[str, Any]:
    data = regression()
    model = fsdp2(mlp())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = capture(model, opt)
    tuned = lt.tune_lr(model, opt, shard(data[:6], rank), val_data=shard(data[6:], rank), **RACE)
    assert_same(capture(model, opt), before)
    out = tuned.to_dict()
    out["range_test"].pop("timings")  # each rank timed its own snapshot
    return out


def test_fsdp2_ranks_race_one_race_and_match_one_process(tmp_path: Path) -> None:
    ranks = spawn(fsdp2_race_worker, tmp_path)
    data = regression()
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    single = lt.tune_lr(model, opt, data[:6], val_data=data[6:], **RACE).to_dict()
    assert ranks[0] == ranks[1]  # the same candidates, scores and winner on each rank
    assert ranks[0]["rates"] == pytest.approx(single["rates"])
    assert ranks[0]["lr"] == pytest.approx(single["lr"])
    for mine, theirs in zip(ranks[0]["rounds"], single["rounds"], strict=True):
        assert np.allclose(
            np.array(mine["losses"], dtype=float),
            np.array(theirs["losses"], dtype=float),
            rtol=1e-4,
            equal_nan=True,
        )


def fsdp1_worker(rank: int) -> dict[str, Any]:
    from torch.distributed.fsdp import FullyShardedDataParallel

    data = regression()
    model = FullyShardedDataParallel(mlp(), device_id=torch.device("cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    pre_train(model, opt, shard(data, rank)[0])
    before = capture(model, opt)
    result = lt.find_lr(model, opt, shard(data[:6], rank), progress=False, **SWEEP)
    assert_same(capture(model, opt), before)
    # FSDP1 keeps one flat parameter, this rank's slice of all the weights, between steps.
    flat = [tuple(p.shape) for p in model.parameters()]
    return {"lrs": result.lrs, "losses": result.losses, "flat": flat}


def test_fsdp1_flat_shards_are_put_back_and_match_one_process(tmp_path: Path) -> None:
    ranks = spawn(fsdp1_worker, tmp_path)
    single = single_process_curve()
    numel = sum(p.numel() for p in mlp().parameters())
    for r in ranks:
        assert r["flat"] == [((numel + 1) // WORLD,)]  # a shard, not the model
        assert np.array_equal(r["lrs"], single.lrs)
        assert np.allclose(r["losses"], single.losses, rtol=1e-4, atol=1e-6)
