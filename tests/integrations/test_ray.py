"""Ray Train: a TorchTrainer with two CPU workers runs the range test in train_loop_per_worker;
every worker records the same curve, and the result comes back to the driver.

Starting Ray takes most of this test's time (about a minute on two busy cores)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.train.torch")
import torch.nn.functional as F  # noqa: E402

import lrfinder.ray  # noqa: E402
import lrfinder.torch as lt  # noqa: E402
from _dist import WORLD, mlp, regression, shard  # noqa: E402
from lrfinder import LRFinderError, RangeTestResult  # noqa: E402

SWEEP: dict[str, Any] = {"loss_fn": F.mse_loss, "start_lr": 1e-4, "end_lr": 10.0, "num_steps": 40}


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch
    import torch.distributed as dist

    rank = ray.train.get_context().get_world_rank()
    model = ray.train.torch.prepare_model(mlp())  # DistributedDataParallel over gloo
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lt.find_lr(model, opt, shard(regression()[:6], rank), progress=False, **SWEEP)
    curves: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(curves, result.losses.tolist())
    same = all(c == curves[0] for c in curves)
    lrfinder.ray.report(result, metrics={"same_curve": same, "rank_losses": curves})


@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    # The workers unpickle the loop by value: this test module is not importable there.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(sys.modules["_dist"])
    ray.init(num_cpus=WORLD, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray's own, on its start-up
def test_two_ray_train_workers_sweep_one_curve_and_the_driver_gets_it(
    ray_cluster: Any, tmp_path: Path
) -> None:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        train_loop_per_worker,
        scaling_config=ScalingConfig(num_workers=WORLD, use_gpu=False),
        run_config=RunConfig(storage_path=str(tmp_path), name="lrfinder"),
    )
    fitted = trainer.fit()
    assert fitted.error is None
    result = lrfinder.ray.load_result(fitted)
    assert isinstance(result, RangeTestResult)
    assert fitted.metrics["same_curve"] is True
    assert len(fitted.metrics["rank_losses"]) == WORLD
    assert np.allclose(fitted.metrics["rank_losses"][0], result.losses)

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    single = lt.find_lr(model, opt, regression()[:6], progress=False, **SWEEP)
    assert np.array_equal(result.lrs, single.lrs)
    assert np.allclose(result.losses, single.losses, rtol=1e-4)
    assert result.settings["world_size"] == WORLD
    assert fitted.metrics["lrfinder/steps"] == result.steps


def test_a_result_without_a_checkpoint_says_to_report() -> None:
    class Fitted:
        checkpoint = None
        error = None

    with pytest.raises(LRFinderError, match=r"Call lrfinder.ray.report\(result\) on every worker"):
        lrfinder.ray.load_result(Fitted())
