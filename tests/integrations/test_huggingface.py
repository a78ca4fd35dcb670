"""The Hugging Face callback on a tiny BERT built from a config (no downloaded weights)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import lrfinder  # noqa: E402
from _tiny_bert import tiny_bert as _model  # noqa: E402
from _tiny_bert import token_data as _data  # noqa: E402
from lrfinder.huggingface import RefindCallback  # noqa: E402

STEPS_PER_EPOCH = 6


class SetRates(transformers.TrainerCallback):
    """The same rates as the re-runs found, set by hand at the start of each epoch."""

    def __init__(self, rates):
        self.rates = rates
        self.epoch = 0

    def on_epoch_begin(self, args, state, control, optimizer, lr_scheduler, **kwargs):
        rate = self.rates[self.epoch]
        self.epoch += 1
        for group in optimizer.param_groups:
            group["lr"] = rate
        lr_scheduler.base_lrs = [rate] * len(lr_scheduler.base_lrs)


def _train(tmp_path, callbacks, *, epochs=3, scheduler="constant", attach=False):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=epochs,
        per_device_train_batch_size=16,
        learning_rate=1e-3,
        lr_scheduler_type=scheduler,
        eval_strategy="epoch",
        logging_steps=2,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=7,
    )
    trainer = transformers.Trainer(
        model=_model(),
        args=args,
        train_dataset=_data(16 * STEPS_PER_EPOCH, 1),
        eval_dataset=_data(32, 2),
    )
    for cb in callbacks:
        if attach:
            cb.trainer = trainer
        trainer.add_callback(cb)
    trainer.train()
    return trainer


def _history(trainer):
    drop = ("runtime", "per_second", "lrfinder/", "total_flos")
    return [
        {k: v for k, v in entry.items() if not any(d in k for d in drop)}
        for entry in trainer.state.log_history
        if not any(k.startswith("lrfinder/") for k in entry)
    ]


def test_training_after_reruns_equals_training_at_the_same_rates_by_hand(tmp_path):
    policy = lrfinder.RefindPolicy(
        every_epochs=1, num_steps=15, initial_start_lr=1e-5, initial_end_lr=1, initial_num_steps=40
    )
    callback = RefindCallback(policy=policy)
    with_cb = _train(tmp_path / "cb", [callback], attach=True)
    assert [r.trigger for r in callback.history] == ["initial", "epochs", "epochs"]
    rates = [r.new_lr for r in callback.history]
    assert len(set(rates)) > 1
    by_hand = _train(tmp_path / "hand", [SetRates(rates)])

    for a, b in zip(with_cb.model.parameters(), by_hand.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert with_cb.state.global_step == by_hand.state.global_step == 3 * STEPS_PER_EPOCH
    assert _history(with_cb) == _history(by_hand)
    logged = [e["lrfinder/lr"] for e in with_cb.state.log_history if "lrfinder/lr" in e]
    assert logged == rates


def test_reruns_rescale_the_trainers_schedule(tmp_path):
    policy = lrfinder.RefindPolicy(every_epochs=None, every_steps=4, num_steps=15)
    callback = RefindCallback(policy=policy, initial=False)
    trainer = _train(tmp_path, [callback], epochs=2, scheduler="linear")
    assert [r.step for r in callback.history] == [4, 8]  # none at the last step, 12
    assert callback.history[0].old_lr == 1e-3
    assert trainer.lr_scheduler.base_lrs[0] == pytest.approx(callback.refinder.lr)


def test_plateau_policy_needs_the_monitored_metric(tmp_path):
    policy = lrfinder.RefindPolicy(every_epochs=None, patience=1)
    callback = RefindCallback(policy=policy, initial=False, monitor="eval_accuracy")
    with pytest.raises(
        lrfinder.LRFinderError,
        match=r"`monitor`=.eval_accuracy., which was not reported.*eval_strategy",
    ):
        _train(tmp_path, [callback], epochs=2)


def test_a_model_without_labels_says_how_to_fix_it():
    from lrfinder.huggingface import _model_loss

    model = _model()
    with pytest.raises(lrfinder.LRFinderError, match="must hold `labels`"):
        _model_loss(model, {"input_ids": torch.ones(2, 4, dtype=torch.long)})
