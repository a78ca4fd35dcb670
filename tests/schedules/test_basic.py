"""Every schedule against PyTorch's own scheduler, step by step over 10,000 steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from lrfinder import LRFinderError, schedules

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

STEPS = 10_000
RTOL = 1e-12


def reference(
    make: Callable[[Any], Any],
    *,
    steps: int = STEPS,
    lr: float = 0.1,
    adam: bool = False,
    key: str = "lr",
) -> np.ndarray:
    """The value of ``key`` in the first parameter group at steps 0..steps-1 under PyTorch."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = (
        torch.optim.Adam([param], lr=lr) if adam else torch.optim.SGD([param], lr=lr, momentum=0.9)
    )
    sched = make(opt)
    out = []
    for _ in range(steps):
        group = opt.param_groups[0]
        out.append(group["betas"][0] if key == "beta1" else group[key])
        opt.step()  # no gradient: a no-op, but PyTorch wants it before the scheduler's step
        sched.step()
    return np.array(out, dtype=np.float64)


def ours(schedule: schedules.Schedule, steps: int = STEPS) -> np.ndarray:
    return schedules.tabulate(schedule, steps)


CASES: list[tuple[str, Callable[[Any], Any], schedules.Schedule]] = [
    (
        "StepLR",
        lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.9),
        schedules.step_decay(0.1, step_size=7, gamma=0.9),
    ),
    (
        "MultiStepLR",
        lambda o: lr_scheduler.MultiStepLR(o, milestones=[100, 2500, 2500, 7000], gamma=0.3),
        schedules.multistep_decay(0.1, milestones=[7000, 100, 2500, 2500], gamma=0.3),
    ),
    (
        "ExponentialLR",
        lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9995),
        schedules.exponential_decay(0.1, gamma=0.9995),
    ),
    (
        "CosineAnnealingLR-one-period",
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=STEPS),
        schedules.cosine_annealing(0.1, T_max=STEPS),
    ),
    (
        "CosineAnnealingLR-periodic",
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=1000, eta_min=1e-3),
        schedules.cosine_annealing(0.1, T_max=1000, eta_min=1e-3),
    ),
    (
        "CosineAnnealingWarmRestarts",
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=500),
        schedules.cosine_warm_restarts(0.1, T_0=500),
    ),
    (
        "CosineAnnealingWarmRestarts-T_mult",
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=100, T_mult=2, eta_min=1e-4),
        schedules.cosine_warm_restarts(0.1, T_0=100, T_mult=2, eta_min=1e-4),
    ),
    (
        "CyclicLR-triangular",
        lambda o: lr_scheduler.CyclicLR(o, 1e-3, 0.1, step_size_up=500, cycle_momentum=False),
        schedules.cyclic(1e-3, 0.1, step_size=500),
    ),
    (
        "CyclicLR-triangular2",
        lambda o: lr_scheduler.CyclicLR(
            o, 1e-3, 0.1, step_size_up=700, step_size_down=300, mode="triangular2"
        ),
        schedules.cyclic(1e-3, 0.1, step_size=700, step_size_down=300, mode="triangular2"),
    ),
    (
        "CyclicLR-exp_range",
        lambda o: lr_scheduler.CyclicLR(
            o, 1e-3, 0.1, step_size_up=400, mode="exp_range", gamma=0.9998
        ),
        schedules.cyclic(1e-3, 0.1, step_size=400, mode="exp_range", gamma=0.9998),
    ),
]

# OneCycleLR in each shape: (pct_start, anneal_strategy, three_phase, div_factor, final_div_factor).
ONE_CYCLE = [
    (0.3, "cos", False, 25.0, 1e4),
    (0.25, "linear", False, 10.0, 100.0),
    (0.3, "cos", True, 25.0, 1e4),
    (0.123, "linear", True, 5.0, 1e3),
]


@pytest.mark.parametrize(("name", "make", "schedule"), CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(name: str, make: Callable[[Any], Any], schedule: Any) -> None:
    np.testing.assert_allclose(ours(schedule), reference(make), rtol=RTOL, atol=0)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_momentum_matches_pytorch(mode: str) -> None:
    kw: dict[str, Any] = {"step_size_up": 300, "step_size_down": 200, "mode": mode, "gamma": 0.9997}
    make = lambda o: lr_scheduler.CyclicLR(o, 1e-3, 0.1, base_momentum=0.8, max_momentum=0.95, **kw)  # noqa: E731
    momentum = schedules.cyclic_momentum(
        0.8, 0.95, step_size=300, step_size_down=200, mode=mode, gamma=0.9997
    )
    np.testing.assert_allclose(ours(momentum), reference(make, key="momentum"), rtol=RTOL, atol=0)


@pytest.mark.parametrize(("pct", "anneal", "three", "div", "final"), ONE_CYCLE)
@pytest.mark.parametrize("adam", [False, True], ids=["sgd-momentum", "adam-beta1"])
def test_one_cycle_matches_pytorch(
    pct: float, anneal: str, three: bool, div: float, final: float, adam: bool
) -> None:
    shape: dict[str, Any] = {"pct_start": pct, "anneal_strategy": anneal, "three_phase": three}

    def make(o: Any) -> Any:
        return lr_scheduler.OneCycleLR(
            o, max_lr=0.3, total_steps=STEPS, div_factor=div, final_div_factor=final, **shape
        )

    lr = schedules.one_cycle(
        0.3, total_steps=STEPS, div_factor=div, final_div_factor=final, **shape
    )
    momentum = schedules.one_cycle_momentum(total_steps=STEPS, **shape)
    np.testing.assert_allclose(ours(lr), reference(make, adam=adam), rtol=RTOL, atol=0)
    key = "beta1" if adam else "momentum"
    np.testing.assert_allclose(
        ours(momentum), reference(make, adam=adam, key=key), rtol=RTOL, atol=0
    )


def plateau_losses(seed: int) -> np.ndarray:
    """A noisy falling loss with long plateaus, so the controller both waits and reduces."""
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)
    return (
        1.0 / (1.0 + t / 500.0)
        + 0.05 * np.floor(t / 1500.0) % 2
        + 0.01 * rng.standard_normal(STEPS)
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"patience": 3, "factor": 0.5, "cooldown": 5, "min_lr": 1e-4},
        {"mode": "max", "threshold_mode": "abs", "threshold": 1e-3, "patience": 20},
        {"mode": "min", "threshold_mode": "abs", "threshold": 0.01, "factor": 0.7, "eps": 1e-3},
    ],
)
def test_reduce_on_plateau_matches_pytorch(options: dict[str, Any]) -> None:
    losses = plateau_losses(len(options))
    losses = -losses if options.get("mode") == "max" else losses
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    theirs = lr_scheduler.ReduceLROnPlateau(opt, **options)
    mine = schedules.ReduceLROnPlateau(0.1, **options)
    expected, got = [], []
    for loss in losses:
        opt.step()
        theirs.step(loss)
        expected.append(opt.param_groups[0]["lr"])
        got.append(mine.step(loss))
    assert len(set(got)) > 2, "the test curve must trigger several reductions"
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_reduce_on_plateau_resumes_from_state() -> None:
    losses = plateau_losses(7)
    full = schedules.ReduceLROnPlateau(0.1, patience=3, cooldown=2)
    expected = [full.step(x) for x in losses[:3000]]
    first = schedules.ReduceLROnPlateau(0.1, patience=3, cooldown=2)
    got = [first.step(x) for x in losses[:1234]]
    second = schedules.ReduceLROnPlateau(0.1, patience=3, cooldown=2)
    second.load_state_dict(first.state_dict())
    got += [second.step(x) for x in losses[1234:3000]]
    assert got == expected


# -- composition ------------------------------------------------------------------------------
def test_linear_warmup_ramps_then_follows_the_schedule() -> None:
    inner = schedules.cosine_annealing(0.1, T_max=50)
    s = schedules.linear_warmup(inner, steps=10, start_lr=0.01)
    assert s(0) == 0.01
    np.testing.assert_allclose([s(i) for i in range(11)], np.linspace(0.01, 0.1, 11), rtol=1e-12)
    assert [s(10 + i) for i in range(60)] == [inner(i) for i in range(60)]


def test_join_switches_at_the_boundaries() -> None:
    a, b, c = (
        schedules.constant(1.0),
        schedules.exponential_decay(0.5, gamma=0.9),
        schedules.constant(0.0),
    )
    s = schedules.join([a, b, c], boundaries=[5, 8])
    assert [s(i) for i in range(10)] == [a(0)] * 5 + [b(0), b(1), b(2)] + [0.0, 0.0]


def test_one_cycle_holds_its_final_value_past_the_end() -> None:
    s = schedules.one_cycle(0.1, total_steps=100)
    assert s(99) == s(100) == s(10**9)


# -- bad arguments ----------------------------------------------------------------------------
BAD = [
    (
        lambda: schedules.constant(-0.1),
        r"`lr` must be a finite number, 0 or above. Received: lr=-0.1",
    ),
    (lambda: schedules.constant(float("nan")), r"Received: lr=nan"),
    (
        lambda: schedules.step_decay(0.1, step_size=0),
        r"`step_size` must be an integer of at least 1. Received: step_size=0",
    ),
    (lambda: schedules.step_decay(0.1, step_size=2.5), r"Received: step_size=2.5"),  # type: ignore[arg-type]
    (
        lambda: schedules.multistep_decay(0.1, milestones=[3, -1]),
        r"`milestones` .* Received: milestones=-1",
    ),
    (
        lambda: schedules.exponential_decay(0.1, gamma=-1.0),
        r"`gamma` must be .* Received: gamma=-1.0",
    ),
    (
        lambda: schedules.cosine_annealing(0.1, T_max=0),
        r"`T_max` must be an integer of at least 1. Received: T_max=0",
    ),
    (lambda: schedules.cosine_annealing(0.1, T_max=10, eta_min=-1e-3), r"Received: eta_min=-0.001"),
    (lambda: schedules.cosine_warm_restarts(0.1, T_0=0), r"Received: T_0=0"),
    (lambda: schedules.cosine_warm_restarts(0.1, T_0=5, T_mult=0), r"Received: T_mult=0"),
    (
        lambda: schedules.cyclic(0.1, 0.01, step_size=10),
        r"`max_lr` must be above `base_lr`. Received: base_lr=0.1, max_lr=0.01",
    ),
    (lambda: schedules.cyclic(-1.0, 0.01, step_size=10), r"Received: base_lr=-1.0"),
    (lambda: schedules.cyclic(0.001, 0.01, step_size=0), r"Received: step_size=0"),
    (
        lambda: schedules.cyclic(0.001, 0.01, step_size=5, step_size_down=0),
        r"Received: step_size_down=0",
    ),
    (
        lambda: schedules.cyclic(0.001, 0.01, step_size=5, mode="sine"),
        r"`mode` must be one of 'triangular', 'triangular2', 'exp_range'. Received: mode='sine'",
    ),
    (
        lambda: schedules.cyclic(0.001, 0.01, step_size=5, gamma=1.5),
        r"`gamma` must be in \(0, 1\]. Received: gamma=1.5",
    ),
    (
        lambda: schedules.one_cycle(0.0, total_steps=10),
        r"`max_lr` must be a finite number above 0. Received: max_lr=0.0",
    ),
    (
        lambda: schedules.one_cycle(0.1, total_steps=0),
        r"`total_steps` must be an integer of at least 2. Received: total_steps=0",
    ),
    (
        lambda: schedules.one_cycle(0.1, total_steps=100, pct_start=1.0),
        r"`pct_start` must be in \(0, 1\). Received: pct_start=1.0",
    ),
    (lambda: schedules.one_cycle(0.1, total_steps=100, pct_start=0.0), r"Received: pct_start=0.0"),
    (
        lambda: schedules.one_cycle(0.1, total_steps=3, pct_start=0.3),
        r"`total_steps` is too small for `pct_start`.*Received: total_steps=3, pct_start=0.3",
    ),
    (
        lambda: schedules.one_cycle(0.1, total_steps=100, anneal_strategy="exp"),
        r"Received: anneal_strategy='exp'",
    ),
    (lambda: schedules.one_cycle(0.1, total_steps=100, div_factor=0), r"Received: div_factor=0"),
    (
        lambda: schedules.one_cycle(0.1, total_steps=100, final_div_factor=-2),
        r"Received: final_div_factor=-2",
    ),
    (
        lambda: schedules.one_cycle_momentum(
            total_steps=100, base_momentum=0.95, max_momentum=0.85
        ),
        r"`max_momentum` must be above `base_momentum`",
    ),
    (
        lambda: schedules.one_cycle_momentum(total_steps=100, max_momentum=1.5),
        r"`max_momentum` must be in \(0, 1\]. Received: max_momentum=1.5",
    ),
    (lambda: schedules.linear_warmup(schedules.constant(0.1), steps=0), r"Received: steps=0"),
    (
        lambda: schedules.join([schedules.constant(0.1)], boundaries=[3]),
        r"`boundaries` must hold one step fewer than `schedules`",
    ),
    (
        lambda: schedules.join([schedules.constant(0.1)] * 3, boundaries=[5, 5]),
        r"`boundaries` must increase strictly. Received: boundaries=\[5, 5\]",
    ),
    (lambda: schedules.constant(0.1)(-1), r"A schedule starts at step 0. Received: step=-1"),
    (lambda: schedules.tabulate(schedules.constant(0.1), 0), r"Received: steps=0"),
    (
        lambda: schedules.ReduceLROnPlateau(0.1, factor=1.0),
        r"`factor` must be in \(0, 1\). Received: factor=1.0",
    ),
    (lambda: schedules.ReduceLROnPlateau(0.1, patience=-1), r"Received: patience=-1"),
    (lambda: schedules.ReduceLROnPlateau(0.1, mode="up"), r"Received: mode='up'"),
    (
        lambda: schedules.ReduceLROnPlateau(0.1, threshold_mode="pct"),
        r"Received: threshold_mode='pct'",
    ),
    (
        lambda: schedules.ReduceLROnPlateau(0.1).step(float("nan")),
        r"The monitored metric must be a number. Received: metric=nan",
    ),
    (
        lambda: schedules.ReduceLROnPlateau(0.1).load_state_dict({"lr": 1, "bogus": 2}),
        r"unknown keys. Received: \['bogus'\]",
    ),
]


@pytest.mark.parametrize(("call", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_arguments_raise_with_the_value(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(LRFinderError, match=message):
        call()


def test_schedules_import_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lrfinder, lrfinder.schedules; "
        "print(sorted({'torch', 'keras', 'jax', 'optax', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    [
        "lrfinder.schedules",
        "lrfinder.schedules._basic",
        "lrfinder.schedules._cyclical",
        "lrfinder.schedules._plateau",
        "lrfinder.schedules._from",
        "lrfinder.torch._schedule",
    ],
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    failed, attempted = doctest.testmod(importlib.import_module(name))
    assert failed == 0 and attempted > 0


def test_numpy_rates_are_rates_and_bools_are_not() -> None:
    assert schedules.constant(np.float32(0.5))(0) == pytest.approx(0.5)
    with pytest.raises(LRFinderError, match=r"must be a finite number"):
        schedules.constant(True)
