"""The Lightning callback: it changes the rate and nothing else the trainer can see."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import lrfinder  # noqa: E402
from lrfinder.lightning import RefindCallback  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers.*"),
    pytest.mark.filterwarnings("ignore:.*number of training batches.*"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.* is deprecated:FutureWarning"),
]


class Regression(pl.LightningModule):
    """A small MLP; ``rates`` (by epoch) set the rate by hand when given."""

    def __init__(self, rates: list[float] | None = None, scheduler: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Dropout(0.1), torch.nn.ReLU(), torch.nn.Linear(16, 1)
        )
        self.rates = rates
        self.use_scheduler = scheduler

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_train_epoch_start(self):
        if self.rates is not None:
            for group in self.trainer.optimizers[0].param_groups:
                group["lr"] = self.rates[self.current_epoch]

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        if not self.use_scheduler:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + 0.05 * s))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _data(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(320, 6, generator=g)
    y = x[:, :3].sum(1, keepdim=True) - x[:, 3:4] ** 2 + 0.1 * torch.randn(320, 1, generator=g)
    train = torch.utils.data.TensorDataset(x[:256], y[:256])
    val = torch.utils.data.TensorDataset(x[256:], y[256:])
    return (
        torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
        torch.utils.data.DataLoader(val, batch_size=64),
    )


def _fit(tmp_path: Path, name: str, module, callbacks, max_epochs: int = 4, ckpt_path=None):
    early = pl.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=1e-3)
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=pl.loggers.CSVLogger(tmp_path, name=name),
        callbacks=[*callbacks, early],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=2,
    )
    torch.manual_seed(123)
    train, val = _data()
    trainer.fit(module, train, val, ckpt_path=ckpt_path)
    return trainer, early


def _logged(trainer) -> list[dict[str, str]]:
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return [
        {k: v for k, v in row.items() if not k.startswith("lrfinder/") and v != ""}
        for row in rows
        if any(v != "" for k, v in row.items() if not k.startswith("lrfinder/") and k != "step")
    ]


def test_training_after_reruns_equals_training_at_the_same_rates_by_hand(tmp_path):
    callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=1))
    with_cb, early_cb = _fit(tmp_path, "cb", Regression(), [callback])
    history = callback.history
    assert [r.trigger for r in history] == ["initial"] + ["epochs"] * (with_cb.current_epoch - 1)
    rates = [r.new_lr for r in history]
    assert len(set(rates)) > 1  # the re-runs did move the rate
    by_hand, early_hand = _fit(tmp_path, "hand", Regression(rates=rates), [])

    pairs = zip(
        with_cb.lightning_module.parameters(), by_hand.lightning_module.parameters(), strict=True
    )
    for a, b in pairs:
        assert torch.equal(a, b)
    assert with_cb.global_step == by_hand.global_step
    assert with_cb.current_epoch == by_hand.current_epoch
    assert with_cb.fit_loop.epoch_loop.batch_progress.total.completed == (
        by_hand.fit_loop.epoch_loop.batch_progress.total.completed
    )
    val_a = with_cb.fit_loop.epoch_loop.val_loop.batch_progress.total.completed
    assert val_a == by_hand.fit_loop.epoch_loop.val_loop.batch_progress.total.completed
    assert early_cb.wait_count == early_hand.wait_count
    assert early_cb.stopped_epoch == early_hand.stopped_epoch
    assert torch.equal(early_cb.best_score, early_hand.best_score)
    assert {k: float(v) for k, v in with_cb.callback_metrics.items()} == {
        k: float(v) for k, v in by_hand.callback_metrics.items()
    }
    assert _logged(with_cb) == _logged(by_hand)


def test_found_rates_go_to_the_trainers_logger(tmp_path):
    callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=1))
    trainer, _ = _fit(tmp_path, "log", Regression(), [callback], max_epochs=2)
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        logged = [float(r["lrfinder/lr"]) for r in csv.DictReader(f) if r["lrfinder/lr"]]
    assert logged == [r.new_lr for r in callback.history]


def test_step_policy_rescales_the_schedulers_peak(tmp_path):
    policy = lrfinder.RefindPolicy(every_epochs=None, every_steps=5, num_steps=20)
    callback = RefindCallback(policy=policy, initial=False)
    trainer, _ = _fit(tmp_path, "steps", Regression(scheduler=True), [callback], max_epochs=2)
    assert [r.step for r in callback.history] == [5, 10, 15]
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.base_lrs[0] == pytest.approx(callback.refinder.lr)
    expected = callback.refinder.lr / (1 + 0.05 * trainer.global_step)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(expected)


def test_a_resumed_run_keeps_the_found_rate(tmp_path):
    callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=1))
    trainer, _ = _fit(tmp_path, "first", Regression(), [callback], max_epochs=2)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    resumed = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=1))
    ckpt = tmp_path / "last.ckpt"
    _fit(tmp_path, "resumed", Regression(), [resumed], max_epochs=3, ckpt_path=ckpt)
    # no initial test on resume: one re-run, at the start of the third epoch, from the saved rate
    assert [(r.trigger, r.epoch) for r in resumed.history] == [("epochs", 2)]
    assert resumed.history[0].old_lr == callback.refinder.lr


def test_plateau_policy_reruns_when_the_validation_loss_stalls(tmp_path):
    # min_delta=0.9: only a tenfold fall of the validation loss counts as progress
    policy = lrfinder.RefindPolicy(every_epochs=None, patience=1, min_delta=0.9)
    callback = RefindCallback(policy=policy, initial=False)
    trainer, _ = _fit(tmp_path, "stall", Regression(), [callback], max_epochs=5)
    val = [float(row["val_loss"]) for row in _logged(trainer) if "val_loss" in row]
    replay = lrfinder.Refinder(policy, lr=0.01)  # the same policy over the logged losses
    expected = [e for e, m in enumerate(val[:-1], 1) if replay.epoch_end(e, metric=m)]
    assert expected  # the setup does stall
    assert [r.epoch for r in callback.history] == expected
    assert {r.trigger for r in callback.history} == {"plateau"}


def test_plateau_policy_needs_the_monitored_metric(tmp_path):
    policy = lrfinder.RefindPolicy(every_epochs=None, patience=1)
    callback = RefindCallback(policy=policy, initial=False, monitor="missing")
    with pytest.raises(
        lrfinder.LRFinderError, match=r"`monitor`=.missing., which was not reported"
    ):
        _fit(tmp_path, "plateau", Regression(), [callback], max_epochs=2)


def test_manual_optimization_is_refused(tmp_path):
    module = Regression()
    module.automatic_optimization = False
    with pytest.raises(lrfinder.LRFinderError, match="automatic optimization with one"):
        _fit(tmp_path, "manual", module, [RefindCallback()], max_epochs=1)


class PlateauRegression(Regression):
    """Lightning's own regression setup: a ReduceLROnPlateau on the validation loss."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}


def test_a_reduce_on_plateau_scheduler_trains_to_the_end_with_early_stopping(tmp_path):
    callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=None))
    trainer, early = _fit(tmp_path, "plateau_sched", PlateauRegression(), [callback], max_epochs=6)
    assert trainer.state.finished and trainer.current_epoch >= 1
    assert [r.trigger for r in callback.history] == ["initial"]
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    # The scheduler reduced from the found rate: a power of its factor below it.
    halvings = round(float(torch.log2(torch.tensor(callback.refinder.lr / lr))))
    assert halvings >= 0 and lr == pytest.approx(callback.refinder.lr * 0.5**halvings)
    assert isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert early.stopped_epoch in (0, trainer.current_epoch - 1, trainer.current_epoch)


class SkippingRegression(Regression):
    """A training_step that returns None (Lightning's "skip this batch") for every third call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def training_step(self, batch, batch_idx):
        self.calls += 1
        if self.calls % 3 == 0:
            return None
        return super().training_step(batch, batch_idx)


# Lightning's own training warns each time its training_step returns None.
@pytest.mark.filterwarnings("ignore:`training_step` returned `None`:UserWarning")
def test_a_training_step_that_returns_none_skips_the_batch_in_the_range_test(tmp_path):
    callback = RefindCallback(policy=lrfinder.RefindPolicy(every_epochs=None))
    trainer, _ = _fit(tmp_path, "skip", SkippingRegression(), [callback], max_epochs=1)
    record = callback.history[0]
    assert trainer.state.finished and record.trigger == "initial" and record.found_lr
    skipped = record.result.settings["skipped_batches"]
    assert skipped and abs(len(skipped) - record.result.steps / 2) <= 1  # one in three calls
