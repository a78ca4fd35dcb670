"""Distributed data parallel: two gloo processes on CPU give the single-process curve."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lrfinder._core._find  # noqa: E402
import lrfinder.torch as lt  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")

WORLD = 2
OPTIONS: dict[str, Any] = {
    "loss_fn": F.mse_loss,
    "start_lr": 1e-4,
    "end_lr": 10.0,
    "num_steps": 40,
    "accumulation_steps": 2,  # exercises DDP's no_sync() on the first micro-batch
    "val_every": 5,
}


def setup() -> tuple[torch.nn.Module, list[tuple[Any, Any]], list[tuple[Any, Any]]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(16, 4, generator=g) for _ in range(7)]
    batches = [(x, x.sum(1, keepdim=True) + 0.1 * x[:, :1] ** 2) for x in xs]
    return model, batches[:6], batches[6:]


def shard(batches: list[tuple[Any, Any]], rank: int) -> list[tuple[Any, Any]]:
    """This rank's half of every global batch (what a DistributedSampler would hand it)."""
    size = batches[0][0].shape[0] // WORLD
    return [
        (x[rank * size : (rank + 1) * size], y[rank * size : (rank + 1) * size]) for x, y in batches
    ]


def pre_train(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Any) -> None:
    F.mse_loss(model(batch[0]), batch[1]).backward()
    opt.step()


def worker(rank: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        model, data, val = setup()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        pre_train(ddp, opt, shard(data, rank)[0])
        before = capture(ddp, opt)
        bars: list[bool] = []
        real_bar = lrfinder._core._find.progress_bar

        def spy(enabled: bool, total: int) -> Any:
            bars.append(enabled)
            return real_bar(False, total)

        lrfinder._core._find.progress_bar = spy  # type: ignore[assignment]
        result = lt.find_lr(
            ddp, opt, shard(data, rank), val_data=shard(val, rank), progress=True, **OPTIONS
        )
        assert_same(capture(ddp, opt), before)
        torch.save(
            {
                "lrs": result.lrs,
                "losses": result.losses,
                "val_losses": result.val_losses,
                "stop_reason": result.stop_reason,
                "world_size": result.settings["world_size"],
                "params": [p.detach().clone() for p in model.parameters()],
                "bars": bars,
            },
            Path(out) / f"{rank}.pt",
        )
        # Both ranks done before either tears gloo down: a rank that destroys the group while
        # the other still talks to it can abort ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


# spawn, not fork: by the time this test runs, other tests have started threads (Lightning,
# transformers, Keras), and a forked child can inherit one of their locks held and hang forever.
def test_two_gloo_ranks_match_a_single_process_over_the_global_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    mp.start_processes(
        worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, start_method="spawn"
    )
    ranks = [torch.load(tmp_path / f"{r}.pt", weights_only=False) for r in range(WORLD)]

    model, data, val = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    pre_train(model, opt, data[0])
    start = [p.detach().clone() for p in model.parameters()]
    single = lt.find_lr(model, opt, data, val_data=val, progress=False, **OPTIONS)

    assert single.stop_reason == "diverged"
    for r in ranks:
        assert r["world_size"] == WORLD
        assert r["stop_reason"] == single.stop_reason
        assert np.array_equal(r["lrs"], single.lrs)  # same sweep, same stop step
        # Mean of the two halves' means is the global mean, up to float rounding.
        assert np.allclose(r["losses"], single.losses, rtol=1e-4)
        assert np.allclose(r["val_losses"], single.val_losses, rtol=1e-4, equal_nan=True)
        # Each rank checked its own bit-exact restore; the weights agree with one process's
        # up to the rounding of DDP's averaged gradients in the step before the test.
        assert all(torch.allclose(p, s, rtol=1e-5) for p, s in zip(r["params"], start, strict=True))
    assert_same(ranks[0]["params"], ranks[1]["params"])  # every rank restored to the same weights
    assert np.array_equal(ranks[0]["losses"], ranks[1]["losses"])  # one averaged curve
    assert ranks[0]["bars"] == [True] and ranks[1]["bars"] == [False]


RACE: dict[str, Any] = {"loss_fn": F.mse_loss, "total_steps": 12, "start_lr": 1e-4, "end_lr": 10.0}
RACE.update(num_steps=40, progress=False)


def race_worker(rank: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        model, data, val = setup()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        before = capture(ddp, opt)
        tuned = lt.tune_lr(ddp, opt, shard(data, rank), val_data=shard(val, rank), **RACE)
        assert_same(capture(ddp, opt), before)
        torch.save(tuned.to_dict(), Path(out) / f"race{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_every_rank_races_the_same_candidates_on_the_averaged_held_out_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    mp.start_processes(
        race_worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD,
        start_method="spawn",
    )
    ranks = [torch.load(tmp_path / f"race{r}.pt", weights_only=False) for r in range(WORLD)]
    model, data, val = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    single = lt.tune_lr(model, opt, data, val_data=val, **RACE).to_dict()
    for r in ranks:
        r["range_test"].pop("timings")  # each rank timed its own snapshot
    assert ranks[0] == ranks[1]  # one race: the same candidates, scores and winner on each rank
    assert ranks[0]["rates"] == pytest.approx(single["rates"])
    assert ranks[0]["lr"] == pytest.approx(single["lr"])
    for mine, theirs in zip(ranks[0]["rounds"], single["rounds"], strict=True):
        assert np.allclose(
            np.array(mine["losses"], dtype=float),
            np.array(theirs["losses"], dtype=float),
            rtol=1e-4,
            equal_nan=True,
        )


# A failure on one rank, in its loss or its data, raised on a later step; afterwards the failing
# rank either only waits (at a barrier) or trains on with DDP, as a caller that catches would.
FAULTS = [
    ("loss", "wait", 1),
    ("loss", "train on", 1),
    ("data", "wait", 1),
    ("data", "train on", 1),
    ("loss", "train on", 0),
]


class FailingData:
    """Re-iterable batches whose ``at``-th batch overall raises."""

    def __init__(self, batches: list[Any], at: int) -> None:
        self.batches, self.at, self.served = batches, at, 0

    def __iter__(self) -> Any:
        for batch in self.batches:
            self.served += 1
            if self.served == self.at:
                raise RuntimeError("boom in the data")
            yield batch


def fault_worker(rank: int, init_file: str, out: str) -> None:
    from datetime import timedelta

    # A short timeout turns the old hang (30 minutes by default) into a failure of this test.
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=WORLD,
        timeout=timedelta(seconds=30),
    )
    outcomes = []
    try:
        for where, after, failing in FAULTS:
            model, data, _ = setup()
            ddp = torch.nn.parallel.DistributedDataParallel(model)
            opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
            mine = shard(data, rank)
            pre_train(ddp, opt, mine[0])
            before = capture(ddp, opt)
            calls = [0]

            def loss_fn(out: Any, target: Any, calls: list[int] = calls) -> Any:
                calls[0] += 1
                if rank == failing and where == "loss" and calls[0] == 9:  # noqa: B023
                    raise RuntimeError("boom in the loss")
                return F.mse_loss(out, target)

            batches: Any = FailingData(mine, at=9) if rank == failing and where == "data" else mine
            options = {**OPTIONS, "loss_fn": loss_fn, "val_every": 1}
            try:
                lt.find_lr(ddp, opt, batches, progress=False, **options)
                outcomes.append(("returned", ""))
            except Exception as exc:
                outcomes.append((type(exc).__name__, str(exc)))
            assert_same(capture(ddp, opt), before)
            if after == "train on":
                for batch in mine[:3]:
                    pre_train(ddp, opt, batch)
            dist.barrier()
        torch.save(outcomes, Path(out) / f"faults{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Everything is saved and checked. Gloo's threads may still hold work from the collectives
    # a failing rank left, and can abort the interpreter's teardown ("terminate called without
    # an active exception", SIGABRT, seen once in a full run): leave without it.
    os._exit(0)


def test_a_failure_on_one_rank_stops_and_restores_every_rank_and_names_the_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    context = mp.start_processes(
        fault_worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD,
        start_method="spawn",
        join=False,
    )
    deadline = time.monotonic() + 240
    while not context.join(timeout=2):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the ranks did not finish within 240 s: one is blocked in a collective")
    ranks = [torch.load(tmp_path / f"faults{r}.pt", weights_only=False) for r in range(WORLD)]
    for i, (where, _, failing) in enumerate(FAULTS):
        own, other = ranks[failing][i], ranks[1 - failing][i]
        assert own == ("RuntimeError", f"boom in the {where}")
        assert other[0] == "RankFailedError"
        assert other[1].startswith(f"Rank {failing} of 2 raised during the range test")
        assert f"so rank {1 - failing} stopped with it" in other[1]
