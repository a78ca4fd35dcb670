"""find_lr(trainer): the rate it finds is the rate train() uses, as if set by hand."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import lrfinder  # noqa: E402
from _tiny_bert import tiny_bert as _model  # noqa: E402
from _tiny_bert import token_data as _data  # noqa: E402
from lrfinder.huggingface import find_lr  # noqa: E402

STEPS_PER_EPOCH = 6


class FirstStep(transformers.TrainerCallback):
    """What the optimizer and the scheduler hold at the first real step."""

    def __init__(self):
        self.lrs = None
        self.base_lrs = None
        self.initial_lrs = None

    def on_step_begin(self, args, state, control, optimizer, lr_scheduler, **kwargs):
        if self.lrs is None:
            self.lrs = [float(g["lr"]) for g in optimizer.param_groups]
            self.initial_lrs = [g.get("initial_lr") for g in optimizer.param_groups]
            self.base_lrs = list(lr_scheduler.base_lrs)


def _trainer(tmp_path, *, lr=1e-3, scheduler="linear", optimizers=(None, None), warmup=0):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=2,
        per_device_train_batch_size=16,
        learning_rate=lr,
        lr_scheduler_type=scheduler,
        warmup_steps=warmup,
        eval_strategy="no",
        logging_steps=2,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=7,
    )
    model = _model()
    if optimizers == "own":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        optimizers = (opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s)))
    return transformers.Trainer(
        model=model,
        args=args,
        train_dataset=_data(16 * STEPS_PER_EPOCH, 1),
        eval_dataset=_data(32, 2),
        optimizers=optimizers,
    )


def _same_weights(a, b):
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.parametrize(("scheduler", "warmup"), [("linear", 0), ("cosine", 3)])
def test_training_equals_training_at_the_found_rate_set_by_hand(tmp_path, scheduler, warmup):
    found = _trainer(tmp_path / "found", scheduler=scheduler, warmup=warmup)
    result = find_lr(found)
    lr = lrfinder.suggest(result).lr
    assert found.args.learning_rate == lr
    assert abs(lr - 1e-3) > 1e-4  # the test moved the rate off the Trainer's own
    seen = FirstStep()
    found.add_callback(seen)
    found.train()

    hand = _trainer(tmp_path / "hand", lr=lr, scheduler=scheduler, warmup=warmup)
    seen_by_hand = FirstStep()
    hand.add_callback(seen_by_hand)
    hand.train()

    _same_weights(found.model, hand.model)
    loss = [e["loss"] for e in found.state.log_history if "loss" in e]
    assert loss == pytest.approx([e["loss"] for e in hand.state.log_history if "loss" in e])
    assert seen.base_lrs == [lr] * len(seen.base_lrs)  # the schedule computes from the found rate
    assert seen.initial_lrs == [lr] * len(seen.initial_lrs)
    assert seen.lrs == pytest.approx(seen_by_hand.lrs, rel=1e-12)
    assert seen.lrs[0] == (lr if warmup == 0 else 0.0)


def test_an_optimizer_and_scheduler_passed_in_are_rescaled(tmp_path):
    found = _trainer(tmp_path / "found", optimizers="own")
    opt, sched = found.optimizer, found.lr_scheduler
    result = find_lr(found, num_steps=40)
    lr = lrfinder.suggest(result).lr
    assert found.optimizer is opt  # the Trainer trains the optimizer the test ran on
    assert sched.base_lrs == [lr] and opt.param_groups[0]["lr"] == lr
    assert opt.param_groups[0]["initial_lr"] == lr
    found.train()
    hand = _trainer(tmp_path / "hand", lr=lr, optimizers="own")
    hand.train()
    _same_weights(found.model, hand.model)


@pytest.mark.filterwarnings("ignore::lrfinder.LRFinderWarning")  # a short sweep, read or not
def test_the_test_reads_the_loss_that_train_optimizes(tmp_path):
    trainer = _trainer(tmp_path)
    calls = []
    compute_loss = trainer.compute_loss

    def counted(model, inputs, *args, **kwargs):
        calls.append(1)
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = counted
    result = find_lr(trainer, num_steps=20)
    assert len(calls) == result.steps == 20


def test_a_trainer_without_training_data_is_refused(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.train_dataset = None
    with pytest.raises(lrfinder.LRFinderError, match="this Trainer has none"):
        find_lr(trainer)
    with pytest.raises(lrfinder.LRFinderError, match=r"`trainer` must be a transformers\.Trainer"):
        find_lr(object())  # type: ignore[arg-type]
