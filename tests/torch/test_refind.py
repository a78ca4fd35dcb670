"""The PyTorch loop helper: re-runs leave no trace, only the rate changes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import lrfinder  # noqa: E402
from lrfinder import LRFinderError, RefindPolicy  # noqa: E402
from lrfinder.torch._refind import LoopRefinder, first_lr, fresh_loader, refind, rescale  # noqa: E402

F = torch.nn.functional


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(16, 1)
    )
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.02},
            {"params": model[3].parameters(), "lr": 0.01},  # half the first group's rate
        ],
        momentum=0.9,
    )
    g = torch.Generator().manual_seed(3)
    x = torch.randn(192, 5, generator=g)
    y = x[:, :2].sum(1, keepdim=True) - x[:, 2:3] ** 2
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True
    )
    return model, opt, data


def _train(model, opt, data, epochs, *, loop=None, rates=None):
    """Train; with ``rates`` (one per step) set every group by hand, keeping the 2:1 ratio."""
    torch.manual_seed(42)
    used, step = [], 0
    for _ in range(epochs):
        for x, y in data:
            if rates is not None:
                opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = rates[step], rates[step] / 2
            used.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
            step += 1
            if loop is not None:
                loop.step_end()
        if loop is not None:
            loop.epoch_end()
    return used


def test_training_after_reruns_equals_training_at_the_same_rates_by_hand():
    model, opt, data = _setup()
    torch.manual_seed(42)  # the initial test must not shift the data order either
    loop = LoopRefinder(
        model,
        opt,
        data,
        loss_fn=F.mse_loss,
        policy=RefindPolicy(every_steps=4, num_steps=15),
        initial=False,
    )
    used = _train(model, opt, data, 3, loop=loop)
    assert [r.trigger for r in loop.history].count("epochs") == 3
    assert [r.trigger for r in loop.history].count("steps") == 4
    assert len(set(used)) > 1
    ref_model, ref_opt, ref_data = _setup()
    _train(ref_model, ref_opt, ref_data, 3, rates=used)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(opt.state.values(), ref_opt.state.values(), strict=True):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert opt.param_groups[1]["lr"] == pytest.approx(opt.param_groups[0]["lr"] / 2)


def test_each_rerun_restores_the_state_exactly():
    model, opt, data = _setup()
    _train(model, opt, data, 1)
    before = [p.detach().clone() for p in model.parameters()]
    momentum = [s["momentum_buffer"].clone() for s in opt.state.values()]
    rng = torch.get_rng_state()
    refinder = lrfinder.Refinder(RefindPolicy(), lr=0.02)
    record = refind(
        refinder, model, opt, data, trigger="manual", epoch=1, step=6, loss_fn=F.mse_loss
    )
    assert record.steps > 5
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(
        torch.equal(a, s["momentum_buffer"])
        for a, s in zip(momentum, opt.state.values(), strict=True)
    )
    assert torch.equal(rng, torch.get_rng_state())
    assert opt.param_groups[0]["lr"] == pytest.approx(record.new_lr)
    assert opt.param_groups[1]["lr"] == pytest.approx(record.new_lr / 2)


def test_the_initial_test_sets_the_rate():
    model, opt, data = _setup()
    policy = RefindPolicy(initial_start_lr=1e-4, initial_end_lr=10, initial_num_steps=40)
    loop = LoopRefinder(model, opt, data, loss_fn=F.mse_loss, policy=policy)
    (record,) = loop.history
    assert record.trigger == "initial"
    assert record.result.lrs[0] == pytest.approx(1e-4)
    assert opt.param_groups[0]["lr"] == pytest.approx(record.new_lr) == pytest.approx(loop.lr)
    assert loop.steps_spent == record.steps


def test_a_schedule_is_rescaled_by_each_rerun():
    model, opt, data = _setup()

    def shape(step: int) -> float:
        return 0.05 * max(0.0, 1 - step / 12)  # reaches 0: the re-run must still find ratios

    loop = LoopRefinder(
        model,
        opt,
        data,
        loss_fn=F.mse_loss,
        schedule=shape,
        peak=0.05,
        initial=False,
        policy=RefindPolicy(every_epochs=None, every_steps=6),
    )
    assert loop.lr == 0.05
    used = _train(model, opt, data, 2, loop=loop)
    peaks = [0.05] + [r.new_lr for r in loop.history]
    expected = [peaks[s // 6] / 0.05 * shape(s) for s in range(12)]
    assert used == pytest.approx(expected)


def test_rescale_moves_a_lambda_schedulers_peak():
    _, opt, _ = _setup()
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s))
    for _ in range(3):
        opt.step()
        scheduler.step()
    rescale(opt, 0.02, 0.01, scheduler)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 / 4)
    opt.step()
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01 / 5, 0.005 / 5])


@pytest.mark.parametrize("kind", ["onecycle", "cyclic"])
def test_rescale_moves_pytorchs_cyclical_schedules_like_a_new_peak(kind):
    def make(peak):
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=peak, momentum=0.9)
        if kind == "onecycle":
            return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak, total_steps=30)
        return opt, torch.optim.lr_scheduler.CyclicLR(opt, peak / 10, peak, step_size_up=5)

    opt, sched = make(0.1)
    ref_opt, ref_sched = make(0.04)  # PyTorch's own schedule at the new peak: the reference
    for _ in range(7):
        for o, s in ((opt, sched), (ref_opt, ref_sched)):
            o.step()
            s.step()
    assert first_lr(opt, sched) == 0.1
    rescale(opt, 0.1, 0.04, sched)
    for _ in range(10):
        for o, s in ((opt, sched), (ref_opt, ref_sched)):
            o.step()
            s.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"])


def test_one_shot_iterators_and_foreign_loaders_are_refused():
    model, opt, data = _setup()
    with pytest.raises(LRFinderError, match="`data` must be re-iterable"):
        LoopRefinder(model, opt, iter(data), loss_fn=F.mse_loss, initial=False)
    with pytest.raises(LRFinderError, match="Pass `data=`"):
        fresh_loader([1, 2, 3])


def test_fresh_loader_leaves_the_global_rng_alone():
    _, _, data = _setup()
    state = torch.get_rng_state()
    batches = list(fresh_loader(data, seed=1))
    assert torch.equal(state, torch.get_rng_state())
    assert sum(len(x) for x, _ in batches) == 192


def test_construction_leaves_the_global_rng_alone():
    model, opt, data = _setup()
    state = torch.get_rng_state()
    LoopRefinder(model, opt, data, loss_fn=F.mse_loss, initial=False)
    assert torch.equal(state, torch.get_rng_state())


def test_docstring_examples():
    import doctest

    import lrfinder.torch._refind

    failed, attempted = doctest.testmod(lrfinder.torch._refind, optionflags=doctest.ELLIPSIS)
    assert (failed, attempted > 0) == (0, True)


def test_loop_refinder_takes_a_schedule_or_a_scheduler_not_both() -> None:
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    with pytest.raises(LRFinderError, match=r"Pass one of `schedule`.*Received both"):
        LoopRefinder(
            model,
            opt,
            [(torch.randn(4, 4), torch.randn(4, 1))],
            loss_fn=F.mse_loss,
            schedule=lambda step: 1.0,
            scheduler=sched,
            initial=False,
        )
