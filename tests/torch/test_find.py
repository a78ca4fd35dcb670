import copy
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrfinder.torch as lft  # noqa: E402
from lrfinder import LRFinderError  # noqa: E402

F = nn.functional


def make_setup(optimizer: str = "adam") -> tuple[nn.Module, torch.optim.Optimizer, list]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)
    )
    model[1].eval()  # a submodule in eval mode must come back in eval mode
    model[0].bias.requires_grad_(False)  # a frozen parameter
    groups = [
        {"params": [model[0].weight, model[0].bias], "lr": 1e-2, "weight_decay": 1e-4},
        {"params": [*model[1].parameters(), *model[4].parameters()], "lr": 1e-3},
    ]
    opt = (
        torch.optim.Adam(groups)
        if optimizer == "adam"
        else torch.optim.SGD(groups, momentum=0.9, nesterov=True)
    )
    data = [(torch.randn(16, 8), torch.randint(0, 3, (16,))) for _ in range(5)]
    model.train()
    model[1].eval()
    for x, y in data[:2]:  # populate optimizer state and gradients before the test
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    random.seed(1)
    np.random.seed(2)  # noqa: NPY002
    return model, opt, data


def capture(model: nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """Everything that must come back, copied."""
    return copy.deepcopy(
        {
            "params": [
                (p.detach().clone(), p.requires_grad, None if p.grad is None else p.grad.clone())
                for p in model.parameters()
            ],
            "buffers": [b.clone() for b in model.buffers()],
            "modes": [m.training for m in model.modules()],
            "opt": opt.state_dict(),
            "python": random.getstate(),
            "numpy": np.random.get_state(),  # noqa: NPY002
            "torch": torch.get_rng_state(),
        }
    )


def assert_same(a: Any, b: Any, path: str = "") -> None:
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b, path


class Boom(Exception):
    pass


def exploding_step(after: int, exc: type[BaseException] = Boom):
    calls = [0]

    def step(model: nn.Module, batch: Any) -> torch.Tensor:
        calls[0] += 1
        if calls[0] > after:
            raise exc("step failed")
        x, y = batch
        return F.cross_entropy(model(x), y)

    return step


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("case", ["completed", "diverged", "raised", "interrupted"])
def test_everything_is_restored_bit_for_bit(optimizer: str, case: str) -> None:
    model, opt, data = make_setup(optimizer)
    before = capture(model, opt)
    group_dicts = list(opt.param_groups)
    kwargs: dict[str, Any] = {"num_steps": 12, "progress": False}
    if case == "completed":
        result = lft.find_lr(model, opt, data, loss_fn=F.cross_entropy, end_lr=1e-2, **kwargs)
        assert result.stop_reason == "completed"
    elif case == "diverged":
        result = lft.find_lr(
            model, opt, data, loss_fn=F.cross_entropy, start_lr=1.0, end_lr=1e6, **kwargs
        )
        assert result.stop_reason in {"diverged", "nonfinite"}
    else:
        exc = Boom if case == "raised" else KeyboardInterrupt
        with pytest.raises(exc):
            lft.find_lr(model, opt, data, step_fn=exploding_step(5, exc), **kwargs)
    assert_same(before, capture(model, opt))
    assert all(a is b for a, b in zip(opt.param_groups, group_dicts, strict=True))


def test_losses_are_those_of_training_at_each_rate() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(torch.randn(16, 8), torch.randint(0, 3, (16,))) for _ in range(3)]
    twin, twin_opt = copy.deepcopy(model), None
    result = lft.find_lr(
        model,
        opt,
        data,
        loss_fn=F.cross_entropy,
        start_lr=1e-3,
        end_lr=1.0,
        num_steps=8,
        progress=False,
    )
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for i, lr in enumerate(result.lrs):
        x, y = data[i % 3]  # the list is cycled
        twin_opt.param_groups[0]["lr"] = float(lr)
        twin_opt.zero_grad()
        loss = F.cross_entropy(twin(x), y)
        assert loss.item() == result.losses[i]
        loss.backward()
        twin_opt.step()
    assert result.steps == 8


def test_groups_keep_their_ratios_during_the_sweep() -> None:
    model, opt, data = make_setup("sgd")
    seen: list[tuple[float, float]] = []

    def step(m: nn.Module, batch: Any) -> torch.Tensor:
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return F.cross_entropy(m(batch[0]), batch[1])

    result = lft.find_lr(
        model, opt, data, step_fn=step, start_lr=1e-4, end_lr=1e-2, num_steps=6, progress=False
    )
    np.testing.assert_allclose(result.group_lrs, seen, rtol=1e-15)
    np.testing.assert_allclose(result.group_lrs[:, 1] / result.group_lrs[:, 0], 0.1, rtol=1e-12)
    assert result.settings["base_lrs"] == [1e-2, 1e-3]
    assert opt.param_groups[0]["lr"] == 1e-2


def test_dict_batches_through_step_fn() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [{"x": torch.randn(8, 4), "y": torch.randn(8, 1)} for _ in range(2)]
    result = lft.find_lr(
        model,
        opt,
        data,
        step_fn=lambda m, b: F.mse_loss(m(b["x"]), b["y"]),
        num_steps=5,
        progress=False,
    )
    assert result.steps == 5 and result.settings["framework"] == "torch"


def test_one_shot_iterators_end_the_test() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = iter([(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)])
    result = lft.find_lr(model, opt, batches, loss_fn=F.mse_loss, num_steps=10, progress=False)
    assert result.steps == 3 and result.stop_reason == "data_exhausted"


def test_dataloader_is_cycled_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    dataset = torch.utils.data.TensorDataset(torch.randn(40, 4), torch.randn(40, 1))
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lft.find_lr(model, opt, loader, loss_fn=F.mse_loss, end_lr=1e-2, num_steps=10)
    assert result.steps == 10
    assert os.listdir(tmp_path) == []
    assert "range test" in capsys.readouterr().err  # the progress bar
    lft.find_lr(model, opt, loader, loss_fn=F.mse_loss, end_lr=1e-2, num_steps=3, progress=False)
    assert capsys.readouterr().err == ""


def test_bad_arguments_raise() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))]
    with pytest.raises(LRFinderError, match=r"Pass exactly one of `loss_fn`.*and `step_fn`"):
        lft.find_lr(model, opt, data)
    with pytest.raises(LRFinderError, match=r"Pass exactly one of"):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss, step_fn=lambda m, b: m(b).sum())
    with pytest.raises(
        LRFinderError, match=r"`optimizer` must be a torch.optim.Optimizer. Received: dict"
    ):
        lft.find_lr(model, {}, data, loss_fn=F.mse_loss)  # type: ignore[arg-type]
    with pytest.raises(
        LRFinderError, match=r"each batch must be an \(inputs, targets\) pair. Received a dict"
    ):
        lft.find_lr(model, opt, [{"x": 1}], loss_fn=F.mse_loss, progress=False)
    with pytest.raises(
        LRFinderError, match=r"one-element tensor.*Received: Tensor of shape \(8, 1\)"
    ):
        lft.find_lr(model, opt, data, step_fn=lambda m, b: m(b[0]), progress=False)
    with pytest.raises(LRFinderError, match=r"Received: float"):
        lft.find_lr(model, opt, data, step_fn=lambda m, b: 1.0, progress=False)  # type: ignore[arg-type,return-value]
    opt.param_groups[0]["lr"] = 0.0
    with pytest.raises(
        LRFinderError, match=r"first parameter group's `lr`.*must be above 0. Received: lr=0.0"
    ):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss)
    with pytest.raises(LRFinderError, match=r"`model` has no parameters"):
        lft.find_lr(
            nn.ReLU(), torch.optim.SGD(model.parameters(), lr=0.1), data, loss_fn=F.mse_loss
        )


def test_the_sweep_keywords_reach_the_range_test_and_typos_are_refused() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))] * 4
    result = lft.find_lr(
        model,
        opt,
        data,
        loss_fn=F.mse_loss,
        start_lr=1e-3,
        end_lr=1e-1,
        num_steps=7,
        mode="linear",
        diverge_threshold=None,
        smooth_beta=0.5,
        progress=False,
    )
    assert result.steps == 7
    assert result.lrs[0] == 1e-3 and result.lrs[-1] == pytest.approx(1e-1)
    assert result.settings["mode"] == "linear" and result.settings["smooth_beta"] == 0.5
    with pytest.raises(LRFinderError, match=r"Unknown options 'endlr', 'steps'\. The sweep takes"):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss, endlr=1.0, steps=5, progress=False)


def test_a_model_with_every_parameter_frozen_is_refused_up_front() -> None:
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.requires_grad_(False)
    data = [(torch.randn(8, 4), torch.randn(8, 1))] * 3
    with pytest.raises(
        LRFinderError,
        match=r"No parameter requires grad: every parameter the optimizer updates is frozen "
        r"\(requires_grad=False; 2 parameter tensor\(s\)\).*Unfreeze",
    ):
        lft.find_lr(model, opt, data, loss_fn=torch.nn.functional.mse_loss, progress=False)


def test_arguments_torch_would_trip_over_are_refused_up_front() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))] * 4
    with pytest.raises(
        LRFinderError, match=r"`model` must be a torch.nn.Module. Received: NoneType"
    ):
        lft.find_lr(None, opt, data, loss_fn=F.mse_loss)  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"`scaler` must be a torch.amp.GradScaler.*'x'"):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss, scaler="x")
    with pytest.raises(LRFinderError, match=r"LBFGS needs a closure.*first-order optimizer"):
        lft.find_lr(model, torch.optim.LBFGS(model.parameters()), data, loss_fn=F.mse_loss)
    with pytest.raises(LRFinderError, match=r"`start_lr` must be a finite number above 0"):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss, start_lr=True)


@pytest.mark.parametrize(
    ("block", "name"), [(torch.no_grad, "no_grad"), (torch.inference_mode, "inference_mode")]
)
def test_find_lr_needs_gradients(block: Any, name: str) -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))] * 4
    with block(), pytest.raises(LRFinderError, match=rf"called under torch.{name}\(\)"):
        lft.find_lr(model, opt, data, loss_fn=F.mse_loss)
    assert opt.param_groups[0]["lr"] == 0.1


def test_numpy_rates_are_rates() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))] * 4
    result = lft.find_lr(
        model, opt, data, loss_fn=F.mse_loss, start_lr=np.float32(1e-3), num_steps=5, progress=False
    )
    assert result.lrs[0] == pytest.approx(1e-3)
