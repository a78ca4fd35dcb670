"""lrfinder.torch on real training: AMP, scaler skips, accumulation, groups, several optimizers,
schedulers, validation mode, lazy modules, model outputs, torch.compile."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import lrfinder  # noqa: E402
import lrfinder.torch as lt  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402

SWEEP = {"start_lr": 1e-4, "end_lr": 1.0, "progress": False}


def mlp(seed: int = 0, dropout: float = 0.0, norm: bool = True) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16),
        torch.nn.BatchNorm1d(16) if norm else torch.nn.Identity(),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(16, 1),
    )


def batches(n: int = 6, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)) for _ in range(n)]


def trained(model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    """One ordinary step, so the optimizer has state and the parameters have gradients."""
    x, y = batches(1, seed=9)[0]
    F.mse_loss(model(x), y).backward()
    opt.step()


# -- accumulation ---------------------------------------------------------------------------------
def test_accumulation_advances_once_per_optimizer_step_and_records_the_window_mean() -> None:
    model, data = mlp(), batches(6)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trained(model, opt)
    reference = copy.deepcopy((model, opt))
    before = capture(model, opt)
    result = lt.find_lr(
        model,
        opt,
        data,
        loss_fn=F.mse_loss,
        num_steps=5,
        accumulation_steps=3,
        diverge_threshold=None,
        **SWEEP,
    )
    assert_same(capture(model, opt), before)
    assert result.steps == 5
    assert np.array_equal(result.lrs, lrfinder.sweep(start_lr=1e-4, end_lr=1.0, num_steps=5))
    # The same training by hand: 3 micro-batches per step, loss / 3, one optimizer step.
    ref_model, ref_opt = reference
    ref_model.train()
    feed = iter(data * 3)
    for lr, recorded in zip(result.lrs, result.losses, strict=True):
        ref_opt.param_groups[0]["lr"] = lr
        ref_opt.zero_grad(set_to_none=True)
        losses = []
        for _ in range(3):
            x, y = next(feed)
            loss = F.mse_loss(ref_model(x), y)
            (loss / 3).backward()
            losses.append(loss.item())
        ref_opt.step()
        assert recorded == pytest.approx(sum(losses) / 3, rel=1e-6)


def test_accumulation_steps_must_be_positive() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrfinder.LRFinderError, match="`accumulation_steps` must be an integer"):
        lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, accumulation_steps=0)


# -- mixed precision ------------------------------------------------------------------------------
def test_cpu_bfloat16_autocast_runs_the_forward_in_bfloat16_and_restores() -> None:
    model, data = mlp(), batches(4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    trained(model, opt)
    before = capture(model, opt)
    dtypes = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        out = m(batch[0])
        dtypes.append(out.dtype)
        return F.mse_loss(out.float(), batch[1])

    result = lt.find_lr(model, opt, data, step_fn=step, num_steps=6, amp=True, **SWEEP)
    assert_same(capture(model, opt), before)
    assert set(dtypes) == {torch.bfloat16}
    assert result.settings["amp_dtype"] == "bfloat16"
    assert result.settings["grad_scaler"] is False  # bfloat16 has float32's range


def test_float16_autocast_brings_its_own_scaler_as_on_cuda() -> None:
    # The CUDA default (float16 + a GradScaler lrfinder creates), exercised on CPU.
    model, data = mlp(), batches(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = capture(model, opt)
    dtypes = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        out = m[0](batch[0])
        dtypes.append(out.dtype)
        return F.mse_loss(m[1:](out).float(), batch[1])

    result = lt.find_lr(
        model, opt, data, step_fn=step, num_steps=6, amp=True, amp_dtype=torch.float16, **SWEEP
    )
    assert_same(capture(model, opt), before)
    assert set(dtypes) == {torch.float16}
    assert result.settings["amp_dtype"] == "float16" and result.settings["grad_scaler"] is True


class InfGrad(torch.autograd.Function):
    """Zero in the forward pass, infinite gradients backward: what float16 overflow does."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        return x.new_zeros(())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return torch.full(ctx.shape, math.inf)


def test_skipped_scaler_steps_do_not_advance_the_sweep_and_are_reported() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    trained(model, opt)
    x, y = batches(1)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.mse_loss(model(x).float(), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()  # the scaler now has its _scale and _growth_tracker tensors
    before = capture(model, opt, scaler)
    poisoned = {2, 5}  # batches whose gradients overflow
    seen: list[int] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        index, x, y = batch
        seen.append(index)
        loss = F.mse_loss(m(x).float(), y)
        return loss + InfGrad.apply(m[0].weight) if index in poisoned else loss

    data = [(i, x, y) for i, (x, y) in enumerate(batches(12))]
    result = lt.find_lr(
        model, opt, data, step_fn=step, num_steps=8, scaler=scaler, diverge_threshold=None, **SWEEP
    )
    assert_same(capture(model, opt, scaler), before)
    # Batch 2 is skipped at step 2, which reruns on batch 3; batch 5 delays step 4 the same way.
    assert result.settings["skipped_steps"] == [2, 4]
    assert seen == list(range(10))
    assert np.array_equal(result.lrs, lrfinder.sweep(start_lr=1e-4, end_lr=1.0, num_steps=8))


def test_a_scaler_that_skips_every_step_stops_the_test() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        return F.mse_loss(m(batch[0]).float(), batch[1]) + InfGrad.apply(m[0].weight)

    scaler = torch.amp.GradScaler("cpu")
    with pytest.raises(
        lrfinder.LRFinderError,
        match=r"The gradient scaler skipped every step: 40 in a row at the first rate .*inf/NaN",
    ):
        lt.find_lr(model, opt, batches(), step_fn=step, scaler=scaler, **SWEEP)
    opt.param_groups[0]["lr"] = 0.1
    state = {"n": 0}

    def later(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        state["n"] += 1
        return step(m, batch) if state["n"] > 3 else F.mse_loss(m(batch[0]).float(), batch[1])

    result = lt.find_lr(model, opt, batches(), step_fn=later, scaler=scaler, **SWEEP)
    assert result.stop_reason == "nonfinite" and result.steps == 3
    assert len(result.settings["skipped_steps"]) == 40


def test_amp_dtype_must_be_a_half_type() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrfinder.LRFinderError, match=r"`amp_dtype` must be torch\.float16"):
        lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, amp=True, amp_dtype=torch.float64)


# -- fine-tuning ----------------------------------------------------------------------------------
def test_groups_keep_their_ratios_frozen_parameters_stay_untouched() -> None:
    model = mlp()
    model[0].weight.requires_grad_(False)  # a frozen layer
    frozen = model[0].weight.detach().clone()
    opt = torch.optim.Adam(
        [
            {"params": [model[0].bias, *model[1].parameters()], "lr": 1e-4},
            {"params": model[4].parameters(), "lr": 1e-3, "weight_decay": 0.01},
        ],
        lr=1e-4,
    )
    trained(model, opt)
    before = capture(model, opt)
    seen: list[list[float]] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        assert torch.equal(m[0].weight, frozen) and m[0].weight.grad is None
        seen.append([g["lr"] for g in opt.param_groups])
        return F.mse_loss(m(batch[0]), batch[1])

    result = lt.find_lr(model, opt, batches(), step_fn=step, num_steps=10, **SWEEP)
    assert_same(capture(model, opt), before)
    assert result.group_lrs.shape == (result.steps, 2)
    assert np.array_equal(result.group_lrs, np.array(seen))
    assert np.allclose(result.group_lrs[:, 1] / result.group_lrs[:, 0], 10.0)
    assert not model[0].weight.requires_grad


def test_a_rate_held_as_a_tensor_is_swept_in_place_and_restored() -> None:
    model = mlp(norm=False)
    lr = torch.tensor(1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    trained(model, opt)
    before = capture(model, opt)
    seen: list[float] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        assert opt.param_groups[0]["lr"] is lr  # written into, never replaced by a float
        seen.append(float(lr))
        return F.mse_loss(m(batch[0]), batch[1])

    result = lt.find_lr(model, opt, batches(), step_fn=step, num_steps=8, **SWEEP)
    assert np.allclose(result.lrs, seen, rtol=1e-6)  # float32 holds each rate to 6 digits
    assert seen[0] == pytest.approx(SWEEP["start_lr"]) and seen[-1] > 100 * seen[0]
    assert_same(capture(model, opt), before)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(1e-3)


def test_a_step_that_takes_its_list_batch_apart_leaves_the_data_whole() -> None:
    # Each batch a step sees is its own list, so popping from it cannot empty the data's lists
    # for the next pass over them.
    data = [list(pair) for pair in batches(3)]

    def step(m: torch.nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch.pop(0), batch.pop(0)
        return F.mse_loss(m(inputs), targets)

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lt.find_lr(model, opt, data, step_fn=step, num_steps=9, **SWEEP)
    assert result.steps == 9 and all(len(b) == 2 for b in data)


def test_several_optimizers_through_step_fn_are_swept_and_restored() -> None:
    models = torch.nn.ModuleDict({"encoder": mlp(0), "head": torch.nn.Linear(1, 1)})
    enc_opt = torch.optim.SGD(models["encoder"].parameters(), lr=1e-3, momentum=0.9)
    head_opt = torch.optim.Adam(models["head"].parameters(), lr=1e-2)
    trained(models["encoder"], enc_opt)
    before = capture(models, [enc_opt, head_opt])
    start = [p.detach().clone() for p in models.parameters()]
    seen: list[list[float]] = []

    def step(m: torch.nn.ModuleDict, batch: Any) -> torch.Tensor:
        seen.append([enc_opt.param_groups[0]["lr"], head_opt.param_groups[0]["lr"]])
        return F.mse_loss(m["head"](m["encoder"](batch[0])), batch[1])

    moved: list[bool] = []

    def spy(m: torch.nn.ModuleDict, batch: Any) -> torch.Tensor:
        moved[:] = [not torch.equal(p, s) for p, s in zip(m.parameters(), start, strict=True)]
        return step(m, batch)

    result = lt.find_lr(models, [enc_opt, head_opt], batches(), step_fn=spy, num_steps=6, **SWEEP)
    assert_same(capture(models, [enc_opt, head_opt]), before)
    assert all(moved)  # both optimizers stepped
    assert np.array_equal(result.group_lrs, np.array(seen))
    assert np.allclose(result.group_lrs[:, 1] / result.group_lrs[:, 0], 10.0)


def test_optimizer_must_be_an_optimizer_or_a_list_of_them() -> None:
    model = mlp()
    with pytest.raises(
        lrfinder.LRFinderError,
        match=r"must be a torch\.optim\.Optimizer\. Received: list\. Pass several",
    ):
        lt.find_lr(model, [], batches(), loss_fn=F.mse_loss)
    with pytest.raises(lrfinder.LRFinderError, match="Received: dict"):
        lt.find_lr(model, {"lr": 1}, batches(), loss_fn=F.mse_loss)  # type: ignore[arg-type]


# -- attached schedulers --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["onecycle", "chained"])
def test_attached_schedulers_are_untouched_and_later_training_is_identical(kind: str) -> None:
    def setup() -> tuple[Any, Any, Any]:
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if kind == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=20)
        else:
            sched = torch.optim.lr_scheduler.ChainedScheduler(
                [
                    torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
                    torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
                ]
            )
        return model, opt, sched

    def train(model: Any, opt: Any, sched: Any) -> None:
        for x, y in batches(4, seed=3):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
            sched.step()

    model, opt, sched = setup()
    ref_model, ref_opt, ref_sched = setup()
    train(model, opt, sched)
    train(ref_model, ref_opt, ref_sched)
    before = capture(model, opt, sched)
    lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, num_steps=8, **SWEEP)
    assert_same(capture(model, opt, sched), before)
    assert "_opt_called" in vars(opt)  # set by the training above, kept as it was
    train(model, opt, sched)
    train(ref_model, ref_opt, ref_sched)
    assert_same(capture(model, opt, sched), capture(ref_model, ref_opt, ref_sched))


# step_fn runs before optimizer.step(), so torch warns that the scheduler stepped first.
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`:UserWarning")
def test_a_scheduler_stepped_by_step_fn_is_restored_when_listed() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    before = capture(model, opt, sched)
    assert "_opt_called" not in vars(opt)

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        loss = F.mse_loss(m(batch[0]), batch[1])
        sched.step()  # a habit of training loops; the test sets the rate before every step anyway
        return loss

    result = lt.find_lr(
        model, opt, batches(), step_fn=step, num_steps=6, schedulers=[sched], **SWEEP
    )
    assert np.array_equal(
        result.lrs, lrfinder.sweep(start_lr=1e-4, end_lr=1.0, num_steps=result.steps)
    )
    assert_same(capture(model, opt, sched), before)
    assert "_opt_called" not in vars(opt)


# -- validation mode ------------------------------------------------------------------------------
def test_validation_loss_on_the_same_fixed_batches_in_eval_mode() -> None:
    model = mlp(dropout=0.5, norm=False)  # batch norm statistics move at any rate
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    held_out = batches(5, seed=7)
    before = capture(model, opt)
    calls: list[tuple[bool, bool, int]] = []

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        calls.append((m.training, torch.is_grad_enabled(), id(batch[0])))
        return F.mse_loss(m(batch[0]), batch[1])

    # A one-shot generator: the first 2 batches are kept and reused, the rest never read.
    result = lt.find_lr(
        model,
        opt,
        batches(),
        step_fn=step,
        num_steps=9,
        val_data=iter(held_out),
        val_batches=2,
        val_every=4,
        start_lr=1e-9,
        end_lr=1e-8,
        progress=False,
    )
    assert_same(capture(model, opt), before)
    assert result.val_losses is not None and result.val_losses.shape == (9,)
    measured = ~np.isnan(result.val_losses)
    assert np.array_equal(np.flatnonzero(measured), [0, 4, 8])
    val_calls = [c for c in calls if not c[0]]
    assert all(not grad for _, grad, _ in val_calls) and len(val_calls) == 6
    assert {i for _, _, i in val_calls} == {id(held_out[0][0]), id(held_out[1][0])}
    # At rates of 1e-9 the weights hardly move: the loss equals the eval loss of the start model.
    model.eval()
    with torch.no_grad():
        expected = np.mean([F.mse_loss(model(x), y).item() for x, y in held_out[:2]])
    assert np.allclose(result.val_losses[measured], expected, rtol=1e-5)
    assert result.timings["val_s"] > 0
    assert result.settings["val_batches"] == 2 and result.settings["val_every"] == 4
    view = result.validation_curve()
    assert np.array_equal(view.losses, result.val_losses[measured])
    assert np.array_equal(view.lrs, result.lrs[measured])
    assert lrfinder.RangeTestResult.from_dict(result.to_dict()) == result


def test_validation_curve_drives_suggestions() -> None:
    model = mlp(norm=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(3)
    xs = [torch.randn(16, 4, generator=g) for _ in range(10)]
    task = [(x, x.sum(1, keepdim=True)) for x in xs]  # learnable, so the curve falls
    result = lt.find_lr(
        model,
        opt,
        task[:8],
        loss_fn=F.mse_loss,
        num_steps=50,
        val_data=task[8:],
        val_batches=2,
        start_lr=1e-5,
        end_lr=1.0,
        progress=False,
    )
    view = result.validation_curve()
    assert view.steps == result.steps
    # The view is the curve (lrs, val_losses): every suggestion method reads it as such.
    expected = lrfinder.RangeTestResult(
        lrs=result.lrs,
        losses=result.val_losses,
        settings=result.settings,
        stop_reason=result.stop_reason,
    )
    assert np.array_equal(view.smoothed_losses, expected.smoothed_losses, equal_nan=True)
    for method in lrfinder.methods():
        assert outcome(view, method) == outcome(expected, method)
    assert outcome(view, lrfinder.DEFAULT_METHOD) != outcome(result, lrfinder.DEFAULT_METHOD)


def outcome(result: lrfinder.RangeTestResult, method: str) -> Any:
    try:
        return result.suggest(method)
    except lrfinder.NoSuggestionError as exc:
        return str(exc)


def test_validation_options_are_checked() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrfinder.LRFinderError, match=r"`val_batches` must be an integer.*=0"):
        lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, val_data=batches(), val_batches=0)
    with pytest.raises(lrfinder.LRFinderError, match="`val_every` must be an integer"):
        lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, val_data=batches(), val_every=0)
    with pytest.raises(lrfinder.LRFinderError, match="`val_data` yielded no batch"):
        lt.find_lr(model, opt, batches(), loss_fn=F.mse_loss, val_data=[], progress=False)


# -- lazy modules ---------------------------------------------------------------------------------
def lazy_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.LazyLinear(16), torch.nn.ReLU(), torch.nn.LazyLinear(1))


def test_lazy_modules_end_as_the_first_forward_pass_initialises_them() -> None:
    model, reference = lazy_model(), lazy_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-3)
    data = batches()
    result = lt.find_lr(model, opt, data, loss_fn=F.mse_loss, num_steps=6, **SWEEP)
    assert result.settings["lazy_initialised"] is True
    torch.manual_seed(0)  # the RNG state find_lr started from
    with torch.no_grad():
        reference(data[0][0])  # what the first training step would initialise
    assert_same(capture(model, opt), capture(reference, ref_opt))
    # And training afterwards is the same step for step.
    for m, o in ((model, opt), (reference, ref_opt)):
        for x, y in data:
            o.zero_grad()
            F.mse_loss(m(x), y).backward()
            o.step()
    assert_same(capture(model, opt), capture(reference, ref_opt))


def test_lazy_modules_need_a_batch() -> None:
    model = lazy_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrfinder.LRFinderError, match=r"`data` yielded no batch; lazy modules"):
        lt.find_lr(model, opt, [], loss_fn=F.mse_loss, progress=False)


# -- model outputs --------------------------------------------------------------------------------
class HFOutput(OrderedDict):  # what transformers' ModelOutput is: a dict with attributes
    def __getattr__(self, name: str) -> Any:
        return self[name]


class HFStyle(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor | None = None) -> HFOutput:
        logits = self.net(inputs)
        out = HFOutput(logits=logits)
        if labels is not None:
            out["loss"] = F.mse_loss(logits, labels)
        return out


def test_hugging_face_style_outputs_give_the_same_curve_as_a_loss_fn() -> None:
    hf = HFStyle()
    opt = torch.optim.Adam(hf.parameters(), lr=1e-3)
    before = capture(hf, opt)
    dict_batches = [{"inputs": x, "labels": y} for x, y in batches()]
    result = lt.find_lr(hf, opt, dict_batches, step_fn=lt.forward_loss, num_steps=12, **SWEEP)
    assert_same(capture(hf, opt), before)
    plain = mlp()
    reference = lt.find_lr(
        plain,
        torch.optim.Adam(plain.parameters(), lr=1e-3),
        batches(),
        loss_fn=F.mse_loss,
        num_steps=12,
        **SWEEP,
    )
    assert np.array_equal(result.losses, reference.losses)
    tuple_result = lt.find_lr(
        hf,
        opt,
        batches(),
        step_fn=lambda m, b: lt.loss_from_output(tuple(m(*b).values())[::-1]),
        num_steps=12,
        **SWEEP,
    )
    assert np.array_equal(tuple_result.losses, reference.losses)


def test_loss_from_output_reads_every_convention() -> None:
    loss = torch.tensor(1.5)
    assert lt.loss_from_output(loss) is loss
    assert lt.loss_from_output({"loss": loss, "logits": None}) is loss
    assert lt.loss_from_output(HFOutput(loss=loss)) is loss
    assert lt.loss_from_output((loss, torch.zeros(3))) is loss
    with pytest.raises(lrfinder.LRFinderError, match=r"holds no loss tensor.*Received a dict"):
        lt.loss_from_output({"logits": torch.zeros(2)})


def test_a_non_scalar_loss_points_to_forward_loss() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrfinder.LRFinderError, match=r"shape \(8, 1\).*forward_loss"):
        lt.find_lr(model, opt, batches(), step_fn=lambda m, b: m(b[0]), progress=False)


# -- torch.compile --------------------------------------------------------------------------------
def test_compiled_model_is_not_recompiled_per_step() -> None:
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    counter = CompileCounter()  # counts graphs; compiling them for real (inductor) is slow on CPU
    model = mlp()
    compiled = torch.compile(model, backend=counter)
    opt = torch.optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    trained(compiled, opt)
    assert counter.frame_count == 1
    before = capture(compiled, opt)
    result = lt.find_lr(
        compiled,
        opt,
        batches(),
        loss_fn=F.mse_loss,
        num_steps=15,
        val_data=batches(1),
        diverge_threshold=None,
        **SWEEP,
    )
    assert result.steps == 15
    assert_same(capture(compiled, opt), before)
    # One more graph for eval() mode (validation), none per step or for the changing rate.
    assert counter.frame_count == 2
    trained(compiled, opt)
    assert counter.frame_count == 2
    torch._dynamo.reset()


@pytest.mark.parametrize("name", ["lrfinder.torch._step", "lrfinder.torch._snapshot"])
def test_docstring_examples_of_the_private_torch_modules(name: str) -> None:
    import doctest
    import importlib

    failed, attempted = doctest.testmod(importlib.import_module(name))
    assert failed == 0 and attempted > 0


# -- the loss read one step late ------------------------------------------------------------------
def _run(defer: bool, case: str) -> tuple[Any, list[int], dict[str, Any], dict[str, Any]]:
    """One sweep of ``case``, read at once or one step late: its result, the batches its steps
    trained on, the state before and the state after."""
    model = mlp(seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    trained(model, opt)
    seen: list[int] = []
    options: dict[str, Any] = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 30}
    extras: list[Any] = []
    data: Any = [(i, x, y) for i, (x, y) in enumerate(batches(40))]

    def step(m: torch.nn.Module, batch: Any) -> torch.Tensor:
        index, x, y = batch
        seen.append(index)
        loss = F.mse_loss(m(x).float(), y)
        if case == "nan" and index == 7:
            return loss * math.nan
        if case == "scaler" and index in (2, 5):
            return loss + InfGrad.apply(m[0].weight)
        if case == "skip" and index % 5 == 4:
            return None  # skip this batch
        return loss

    if case == "one-shot":
        data = iter(data[:9])
    if case == "accumulation":
        options["accumulation_steps"] = 2
    if case == "scaler":
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
        options.update(scaler=scaler, end_lr=1e-2, num_steps=8)
        extras.append(scaler)
    if case == "completed":
        options.update(end_lr=1e-2, diverge_threshold=None)
    before = capture(model, opt, *extras)
    result = lt.find_lr(model, opt, data, step_fn=step, defer_loss=defer, progress=False, **options)
    return result, seen, before, capture(model, opt, *extras)


@pytest.mark.parametrize(
    "case", ["diverged", "nan", "one-shot", "accumulation", "scaler", "completed"]
)
def test_a_deferred_readback_records_the_same_curve_and_restores(case: str) -> None:
    now, seen_now, _, _ = _run(False, case)
    late, seen_late, before, after = _run(True, case)
    assert_same(after, before)
    assert late.settings["defer_loss"] is True and now.settings["defer_loss"] is False
    assert late.stop_reason == now.stop_reason
    assert np.array_equal(late.lrs, now.lrs)
    assert np.array_equal(late.losses, now.losses, equal_nan=True)
    assert np.array_equal(late.smoothed_losses, now.smoothed_losses, equal_nan=True)
    assert late.settings["skipped_steps"] == now.settings["skipped_steps"]
    # At most one step is trained past the stop, and none past the end of the sweep.
    extra = int(now.stop_reason != "data_exhausted" and now.steps < now.settings["num_steps"])
    per_step = 2 if case == "accumulation" else 1
    more = [(len(seen_now) + k) % 40 for k in range(extra * per_step)]  # 40 batches, cycled
    assert seen_late == seen_now + more


def test_the_scaler_skips_and_the_stop_reasons_are_the_ones_read_at_once() -> None:
    now, _, _, _ = _run(False, "scaler")
    assert now.settings["skipped_steps"] == [2, 4]  # the case the comparison above covers
    nan, _, _, _ = _run(False, "nan")
    assert nan.stop_reason == "nonfinite" and nan.steps == 8


@pytest.mark.parametrize("case", ["diverged", "nan", "one-shot", "completed", "skip"])
def test_the_plain_loop_records_what_the_general_step_records(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process, one micro-batch a step, no scaler or autocast: find_lr runs an inlined loop
    (TorchStep.run); forcing the general step must give the same curve and batches."""
    from lrfinder.torch._step import TorchStep

    plain = TorchStep._plain
    taken: list[bool] = []
    monkeypatch.setattr(TorchStep, "_plain", lambda self: taken.append(plain(self)) or taken[-1])
    fast, seen_fast, before, after = _run(False, case)
    assert taken == [True]
    monkeypatch.setattr(TorchStep, "_plain", lambda self: False)
    general, seen_general, _, _ = _run(False, case)
    assert_same(after, before)
    assert fast.stop_reason == general.stop_reason
    assert np.array_equal(fast.lrs, general.lrs)
    assert np.array_equal(fast.losses, general.losses, equal_nan=True)
    assert fast.settings["skipped_batches"] == general.settings["skipped_batches"]
    assert seen_fast == seen_general
    if case == "skip":
        assert general.settings["skipped_batches"]


def test_defer_loss_is_checked() -> None:
    model, data = mlp(), batches(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        lrfinder.LRFinderError, match=r"`defer_loss` must be True, False or None.*Received: 'yes'"
    ):
        lt.find_lr(model, opt, data, loss_fn=F.mse_loss, defer_loss="yes", **SWEEP)  # type: ignore[arg-type]
    with pytest.raises(
        lrfinder.LRFinderError,
        match=r"`defer_loss=True` reads each loss one step late, but a validation loss needs",
    ):
        lt.find_lr(model, opt, data, loss_fn=F.mse_loss, defer_loss=True, val_data=data, **SWEEP)
    result = lt.find_lr(model, opt, data, loss_fn=F.mse_loss, num_steps=5, **SWEEP)
    assert result.settings["defer_loss"] is False  # the default on CPU
