"""torch.compile with the default inductor backend on CPU: a compiled model and a compiled
``optimizer.step`` are swept with no compilation per rate, and put back without a recompile."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch._dynamo  # noqa: E402, F811
import torch.nn.functional as F  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

import lrfinder.torch as lt  # noqa: E402
from _dist import mlp, regression  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402

# Inductor writes C++ and builds it with the system compiler on CPU.
pytestmark = [
    pytest.mark.skipif(
        shutil.which("g++") is None and shutil.which("c++") is None,
        reason="inductor needs a C++ compiler on CPU",
    ),
    # torch's own: importing inductor touches a deprecated torch.jit decorator.
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]
SWEEP: dict[str, Any] = {"loss_fn": F.mse_loss, "start_lr": 1e-4, "end_lr": 10.0}


def graphs() -> int:
    """Graphs dynamo has compiled so far: a recompilation adds one."""
    return int(counters["stats"]["unique_graphs"])


@pytest.fixture(autouse=True)
def fresh_dynamo() -> Any:
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def test_a_compiled_model_is_swept_and_restored_without_recompiling() -> None:
    data = regression()
    model = mlp()
    compiled = torch.compile(model)  # inductor, the default
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.mse_loss(compiled(data[0][0]), data[0][1]).backward()  # compiles forward and backward
    opt.step()
    compiled_once = graphs()
    before = capture(model, opt)
    out_before = compiled(data[1][0]).detach()

    result = lt.find_lr(compiled, opt, data[:6], num_steps=30, progress=False, **SWEEP)

    assert result.steps > 20
    assert graphs() == compiled_once  # not one compilation per rate: none at all
    assert_same(capture(model, opt), before)
    # Put back in place: the compiled graph's guards still hold, the output is the same.
    assert torch.equal(compiled(data[1][0]).detach(), out_before)
    assert graphs() == compiled_once

    eager_model = mlp()
    eager_opt = torch.optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    F.mse_loss(eager_model(data[0][0]), data[0][1]).backward()
    eager_opt.step()
    eager = lt.find_lr(eager_model, eager_opt, data[:6], num_steps=30, progress=False, **SWEEP)
    assert np.array_equal(result.lrs, eager.lrs)
    assert np.allclose(result.losses, eager.losses, rtol=1e-4)


@pytest.mark.parametrize("lr", [1e-3, "tensor"])
def test_a_compiled_optimizer_step_compiles_at_most_twice_over_the_sweep(lr: Any) -> None:
    data = regression()
    model = mlp()
    rate = torch.tensor(1e-3) if lr == "tensor" else lr
    opt = torch.optim.Adam(model.parameters(), lr=rate)
    opt.step = torch.compile(opt.step)  # type: ignore[method-assign]
    F.mse_loss(model(data[0][0]), data[0][1]).backward()
    opt.step()
    before = capture(model, opt)
    compiled_once = graphs()

    result = lt.find_lr(model, opt, data[:6], num_steps=30, progress=False, **SWEEP)

    assert result.steps > 20
    # A tensor rate is written in place: no recompilation. A float rate is specialised once,
    # then dynamo makes it dynamic after the first change: one recompilation, not one per rate.
    assert graphs() - compiled_once <= (0 if lr == "tensor" else 1)
    assert_same(capture(model, opt), before)
    if lr == "tensor":
        assert opt.param_groups[0]["lr"] is rate  # the same tensor, its value put back
