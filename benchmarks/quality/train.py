"""One training run of a setup, and the range tests of each finder, each in its own code.

A run trains for the setup's budget at a constant rate or as the peak of a one-cycle schedule,
and returns the final validation loss. A run whose loss turns NaN/inf, or ends no better than the
untrained model, is diverged and counts as the untrained loss ``L0``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from typing import Any

import torch

from .setups import Setup


def untrained_loss(setup: Setup, seed: int) -> float:
    model = setup.build(seed)
    data = setup.data()
    model.eval()
    with torch.no_grad():
        return float(data.loss_fn(model(data.x_val), data.y_val))


def _finish(model: torch.nn.Module, setup: Setup) -> float:
    data = setup.data()
    model.eval()
    with torch.no_grad():
        return float(data.loss_fn(model(data.x_val), data.y_val))


def train(setup: Setup, *, lr: float, seed: int, protocol: str) -> float:
    """Final validation loss after the budget; NaN when the run blew up."""
    model = setup.build(seed)
    opt = setup.make_optimizer(model.parameters(), lr)
    sched = None
    if protocol == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=setup.steps, cycle_momentum=False
        )
    if not _fit(model, opt, setup, seed, after_step=None if sched is None else sched.step):
        return math.nan
    return _finish(model, setup)


def _fit(
    model: torch.nn.Module,
    opt: Any,
    setup: Setup,
    seed: int,
    *,
    after_step: Callable[[], Any] | None = None,
) -> bool:
    """Train for the setup's budget; False as soon as a loss is NaN/inf."""
    loss_fn = setup.data().loss_fn
    model.train()
    for x, y in setup.batches(seed, setup.steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        if not math.isfinite(loss.item()):
            return False
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()
    return True


def train_lr_free(setup: Setup, *, name: str, seed: int) -> float:
    """Train with a learning-rate-free optimizer at its published defaults."""
    model = setup.build(seed)
    if name == "prodigy":
        from prodigyopt import Prodigy

        opt: Any = Prodigy(model.parameters(), lr=1.0)
    elif name == "dadapt_adam":
        from dadaptation import DAdaptAdam

        opt = DAdaptAdam(model.parameters(), lr=1.0)
    else:
        from schedulefree import AdamWScheduleFree

        opt = AdamWScheduleFree(model.parameters())
    if hasattr(opt, "train"):
        opt.train()
    if not _fit(model, opt, setup, seed):
        return math.nan
    if hasattr(opt, "eval"):
        opt.eval()  # schedule-free evaluates at the averaged weights
    return _finish(model, setup)


# -- range tests ------------------------------------------------------------------------------
RANGE_TEST_STEPS = 100  # every finder's default length
REPEAT_SEED_STRIDE = 1000  # a repeated sweep's batch order: seed + 1000 * repeat


def lrfinder_curve(setup: Setup, seed: int, repeat: int = 0) -> dict[str, Any]:
    """lrfinder's range test at its defaults (1e-7..10, 100 steps); the curve as JSON data.

    ``repeat`` > 0 is a further sweep of the same model (same initial weights) on batches in
    another order, as a user repeating the test would run it."""
    import lrfinder.torch

    model = setup.build(seed)
    opt = setup.make_optimizer(model.parameters(), 1e-3)
    result = lrfinder.torch.find_lr(
        model,
        opt,
        setup.batches(seed + REPEAT_SEED_STRIDE * repeat, RANGE_TEST_STEPS),
        loss_fn=setup.data().loss_fn,
        progress=False,
    )
    return result.to_dict()


def torch_lr_finder_suggestion(setup: Setup, seed: int) -> float:
    """torch-lr-finder's README recipe: optimizer at 1e-7, range_test to 10 over 100 steps,
    and the steepest-gradient suggestion of its ``plot(suggest_lr=True)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    model = setup.build(seed)
    opt = setup.make_optimizer(model.parameters(), 1e-7)
    finder = LRFinder(model, opt, setup.data().loss_fn, device="cpu")
    loader = setup.batches(seed, RANGE_TEST_STEPS)
    finder.range_test(_Loader(loader), end_lr=10, num_iter=RANGE_TEST_STEPS)
    fig, ax = plt.subplots()
    try:
        _, lr = finder.plot(ax=ax, suggest_lr=True)
    finally:
        plt.close(fig)
    finder.reset()
    return float(lr) if lr is not None else math.nan


class _Loader(torch.utils.data.DataLoader):  # type: ignore[type-arg]
    """A DataLoader over precomputed batches (torch-lr-finder and Lightning want a DataLoader)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__(batches, batch_size=None, shuffle=False)


def lightning_lr_find(
    net: torch.nn.Module,
    make_optimizer: Callable[[Any, float], torch.optim.Optimizer],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    **options: Any,
) -> Any:
    """Lightning's ``Tuner.lr_find`` on ``net`` (wrapped in a LightningModule), quietly, with
    its checkpoint in a temporary directory; ``options`` go to ``lr_find``."""
    import logging
    import warnings

    import lightning as L
    from lightning.pytorch.tuner import Tuner

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # lightning sets INFO on import
    warnings.filterwarnings("ignore")

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.lr = 1e-3

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            x, y = batch
            return loss_fn(self.net(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return make_optimizer(self.parameters(), self.lr)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=tmp,
            max_epochs=1000,
        )
        return Tuner(trainer).lr_find(Module(), train_dataloaders=_Loader(batches), **options)


def lightning_suggestion(setup: Setup, seed: int) -> float:
    """Lightning's ``Tuner.lr_find`` at its defaults (1e-8..1, 100 steps) and ``suggestion()``."""
    finder = lightning_lr_find(
        setup.build(seed),
        setup.make_optimizer,
        setup.data().loss_fn,
        setup.batches(seed, RANGE_TEST_STEPS),
    )
    lr = finder.suggestion() if finder is not None else None
    return float(lr) if lr is not None else math.nan
