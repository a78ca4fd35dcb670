"""FindLRCallback: the rate it finds is the rate that trains, as if set by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import lrfinder  # noqa: E402
from lrfinder.lightning import FindLRCallback  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers.*"),
    pytest.mark.filterwarnings("ignore:.*number of training batches.*"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.* is deprecated:FutureWarning"),
]


class Regression(pl.LightningModule):
    """A small MLP whose optimizer reads ``self.lr``; ``scheduler``: none, lambda, onecycle,
    plateau."""

    def __init__(self, lr: float = 1e-4, scheduler: str = "none") -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Dropout(0.1), torch.nn.ReLU(), torch.nn.Linear(16, 1)
        )
        self.lr = lr
        self.scheduler = scheduler

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        if self.scheduler == "none":
            return opt
        if self.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}
        if self.scheduler == "lambda":
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 4))
        else:
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=24)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class FirstStep(pl.Callback):
    """What the optimizer and its scheduler hold when the first real step runs."""

    def __init__(self):
        self.lrs = None
        self.base_lrs = None
        self.initial_lrs = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self.lrs is None:
            self.lrs = [float(g["lr"]) for g in optimizer.param_groups]
            self.initial_lrs = [g.get("initial_lr") for g in optimizer.param_groups]
            configs = trainer.lr_scheduler_configs
            base = getattr(configs[0].scheduler, "base_lrs", None) if configs else None
            self.base_lrs = None if base is None else list(base)


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(320, 6, generator=g)
    y = x[:, :3].sum(1, keepdim=True) - x[:, 3:4] ** 2 + 0.1 * torch.randn(320, 1, generator=g)
    train = torch.utils.data.TensorDataset(x[:256], y[:256])
    val = torch.utils.data.TensorDataset(x[256:], y[256:])
    return (
        torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
        torch.utils.data.DataLoader(val, batch_size=64),
    )


def _fit(tmp_path: Path, name: str, module, callbacks, max_epochs: int = 3, ckpt_path=None):
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=pl.loggers.CSVLogger(tmp_path, name=name),
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=2,
    )
    torch.manual_seed(123)
    train, val = _data()
    trainer.fit(module, train, val, ckpt_path=ckpt_path)
    return trainer


def _same_weights(a, b):
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("scheduler", ["none", "lambda", "plateau"])
def test_training_equals_training_at_the_found_rate_set_by_hand(tmp_path, scheduler):
    finder, seen = FindLRCallback(), FirstStep()
    found_run = _fit(tmp_path, "found", Regression(scheduler=scheduler), [finder, seen])
    lr = finder.lr
    assert lr == lrfinder.suggest(finder.result).lr
    assert abs(lr - 1e-4) > 1e-5  # the test moved the rate off the module's own
    seen_by_hand = FirstStep()
    hand_run = _fit(tmp_path, "hand", Regression(lr=lr, scheduler=scheduler), [seen_by_hand])
    _same_weights(found_run.lightning_module, hand_run.lightning_module)
    assert found_run.callback_metrics["val_loss"] == pytest.approx(
        float(hand_run.callback_metrics["val_loss"]), rel=1e-6
    )
    assert seen.lrs == pytest.approx(seen_by_hand.lrs, rel=1e-12)
    if scheduler != "lambda":  # a plateau scheduler reads the groups' current rate
        assert seen.lrs == [lr]
    else:  # the scheduler computes from the found rate: its warm-up's first step is lr / 4
        assert seen.base_lrs == [lr] and seen.initial_lrs == [lr]
        assert seen.lrs == pytest.approx([lr / 4], rel=1e-12)


def test_a_one_cycle_peak_moves_to_the_found_rate(tmp_path):
    finder, seen = FindLRCallback(for_schedule="onecycle"), FirstStep()
    _fit(tmp_path, "onecycle", Regression(lr=1e-4, scheduler="onecycle"), [finder, seen], 1)
    lr = finder.lr
    assert lr == lrfinder.suggest(finder.result, for_schedule="onecycle").lr
    by_hand = FirstStep()
    _fit(tmp_path, "hand", Regression(lr=lr, scheduler="onecycle"), [by_hand], 1)
    assert seen.lrs == pytest.approx(by_hand.lrs, rel=1e-12)
    assert seen.base_lrs == pytest.approx(by_hand.base_lrs, rel=1e-12)  # max_lr / div_factor


def test_the_rate_is_logged_and_written_to_the_module_when_asked(tmp_path):
    finder = FindLRCallback(attr="lr")
    trainer = _fit(tmp_path, "attr", Regression(), [finder], max_epochs=1)
    module = trainer.lightning_module
    assert module.lr == finder.lr and module.hparams["lr"] == finder.lr
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("lrfinder/found_lr")]
    assert [float(r["lrfinder/found_lr"]) for r in rows] == [finder.lr]
    assert finder.result.settings["num_steps"] == 100  # the default sweep


def test_the_sweep_keywords_reach_the_range_test(tmp_path):
    finder = FindLRCallback(num_steps=30, start_lr=1e-6, end_lr=1.0)
    _fit(tmp_path, "sweep", Regression(), [finder], max_epochs=1)
    assert finder.result.lrs[0] == 1e-6 and finder.result.steps <= 30


def test_resuming_from_a_checkpoint_keeps_its_rate(tmp_path):
    first = FindLRCallback()
    trainer = _fit(tmp_path, "first", Regression(), [first], max_epochs=1)
    ckpt = tmp_path / "one.ckpt"
    trainer.save_checkpoint(ckpt)
    again, seen = FindLRCallback(), FirstStep()
    _fit(tmp_path, "again", Regression(), [again, seen], max_epochs=2, ckpt_path=ckpt)
    assert again.result is None
    assert seen.lrs == [first.lr]


def test_a_curve_with_no_rate_leaves_training_at_its_own_rate_with_a_warning(tmp_path):
    finder, seen = FindLRCallback(num_steps=3, attr="lr"), FirstStep()
    with pytest.warns(
        lrfinder.LRFinderWarning, match=r"found no rate.*keeps its own \(0\.000123\)"
    ):
        trainer = _fit(tmp_path, "none", Regression(lr=1.23e-4), [finder, seen], max_epochs=1)
    assert finder.result is not None and finder.result.steps == 3
    assert finder.suggestion is None and finder.lr is None
    assert seen.lrs == [1.23e-4] and trainer.lightning_module.lr == 1.23e-4
    assert trainer.global_step > 0  # the fit ran to its end


class TwoOptimizers(Regression):
    def configure_optimizers(self):
        return [
            torch.optim.SGD(self.net[0].parameters()),
            torch.optim.SGD(self.net[3].parameters()),
        ]

    def training_step(self, batch, batch_idx):
        return None


def test_two_optimizers_are_refused(tmp_path):
    module = TwoOptimizers()
    module.automatic_optimization = False
    with pytest.raises(lrfinder.LRFinderError, match="FindLRCallback supports automatic"):
        _fit(tmp_path, "two", module, [FindLRCallback()], max_epochs=1)
