"""lrfinder.torch.apply and Suggestion.apply: every parameter group set, their ratios kept."""

from __future__ import annotations

import doctest

import pytest

torch = pytest.importorskip("torch")

import lrfinder  # noqa: E402
import lrfinder.torch  # noqa: E402
from lrfinder import LRFinderError, Suggestion  # noqa: E402
from lrfinder._core._suggestion import quiet_suggest  # noqa: E402


def _groups() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    opt = torch.optim.AdamW(
        [
            {"params": net[0].parameters(), "lr": 1e-4},  # a backbone at a tenth of the head
            {"params": net[1].parameters(), "lr": 1e-3},
        ]
    )
    return net, opt


def _suggestion(lr: float) -> Suggestion:
    return Suggestion(lr=lr, index=0, method="fall", reason="test", low=lr, high=lr)


def test_every_group_is_set_and_keeps_its_ratio() -> None:
    _, opt = _groups()
    assert lrfinder.torch.apply(opt, 0.02) is opt
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2])


def test_a_suggestion_applies_itself_through_the_torch_adapter() -> None:
    _, opt = _groups()
    assert _suggestion(0.005).apply(opt) is opt
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.05])


def test_the_found_rate_is_the_rate_that_trains() -> None:
    """After apply, one SGD step moves each weight by exactly lr x its gradient."""
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    data = [(x, y)] * 4
    result = lrfinder.torch.find_lr(
        net, opt, data, loss_fn=torch.nn.functional.mse_loss, num_steps=60, progress=False
    )
    s = quiet_suggest(result, "steepest")
    s.apply(opt)
    before = net.weight.detach().clone()
    opt.zero_grad()
    torch.nn.functional.mse_loss(net(x), y).backward()
    grad = net.weight.grad.detach().clone()
    opt.step()
    assert torch.allclose(net.weight.detach(), before - s.lr * grad, rtol=1e-6, atol=1e-9)


def test_several_optimizers_count_their_groups_as_one_list() -> None:
    a = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.01)
    b = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.03)
    lrfinder.torch.apply([a, b], _suggestion(0.1))
    assert (a.param_groups[0]["lr"], b.param_groups[0]["lr"]) == pytest.approx((0.1, 0.3))


def test_a_model_instead_of_its_optimizer_is_refused() -> None:
    net, _ = _groups()
    with pytest.raises(
        LRFinderError, match=r"must be a torch.optim.Optimizer.*Received: Sequential"
    ):
        _suggestion(0.1).apply(net)


def test_a_first_group_at_zero_has_no_ratio() -> None:
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.0)
    with pytest.raises(LRFinderError, match=r"first parameter group's `lr`.*above 0.*lr=0.0"):
        lrfinder.torch.apply(opt, 0.1)


def test_apply_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.torch._apply, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
