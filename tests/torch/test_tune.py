"""lrfinder.torch.tune_lr: every trial from one snapshot, scored on held-out loss, no trace left."""

from __future__ import annotations

import copy
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrfinder.schedules  # noqa: E402
import lrfinder.torch as lft  # noqa: E402
from _torch_state import assert_same, capture  # noqa: E402
from lrfinder import LRFinderError, TuneResult  # noqa: E402

F = nn.functional
TOTAL = 24


def setup(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list, list]:
    """A small regression MLP with dropout and Adam, 12 training and 2 held-out batches."""
    torch.manual_seed(seed)
    w = torch.randn(6, 1)
    x = torch.randn(14 * 16, 6)
    y = torch.tanh(x @ w) + 0.05 * torch.randn(len(x), 1)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, len(x), 16)]
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt, batches[:12], batches[12:]


def held_out_loss(model: nn.Module, val: list) -> float:
    model.eval()
    with torch.no_grad():
        return sum(float(F.mse_loss(model(x), y)) for x, y in val) / len(val)


def train_by_hand(model: nn.Module, opt: torch.optim.Optimizer, data: list, lr: float) -> None:
    """What a candidate's trial does: ``TOTAL`` steps at a constant ``lr`` over cycled data."""
    model.train()
    for g in opt.param_groups:
        g["lr"] = lr
    for i in range(TOTAL):
        x, y = data[i % len(data)]
        opt.zero_grad(set_to_none=True)
        F.mse_loss(model(x), y).backward()
        opt.step()


def test_the_race_runs_after_a_range_test_and_restores_everything() -> None:
    model, opt, data, val = setup()
    before = capture(model, opt)
    tuned = lft.tune_lr(
        model,
        opt,
        data,
        val_data=val,
        total_steps=TOTAL,
        loss_fn=F.mse_loss,
        start_lr=1e-5,
        end_lr=10,
        num_steps=60,
        progress=False,
    )
    assert isinstance(tuned, TuneResult)
    assert tuned.range_test is not None and tuned.range_test.steps > 10
    assert tuned.lr in tuned.rates
    assert tuned.steps_spent == tuned.range_test.steps + tuned.trial_steps
    assert tuned.settings["framework"] == "torch" and tuned.settings["held_out"] == "val_data"
    assert_same(before, capture(model, opt))


def test_each_score_is_the_held_out_loss_of_training_that_rate_from_the_start() -> None:
    model, opt, data, val = setup()
    start = copy.deepcopy(model)
    rng = torch.get_rng_state()  # dropout draws from it; every trial starts from this state
    tuned = lft.tune_lr(
        model,
        opt,
        data,
        val_data=val,
        total_steps=TOTAL,
        loss_fn=F.mse_loss,
        rates=[1e-3, 1e-2, 1e-1],
        rounds=[(3, 1.0)],
        progress=False,
    )
    (last,) = tuned.rounds
    for lr, score in zip(tuned.rates, last.losses, strict=True):
        fresh = copy.deepcopy(start)
        torch.set_rng_state(rng)
        train_by_hand(fresh, torch.optim.Adam(fresh.parameters(), lr=lr), data, lr)
        assert score == pytest.approx(held_out_loss(fresh, val), rel=1e-6), lr


def test_rates_added_past_an_edge_train_from_the_start_like_the_others() -> None:
    model, opt, data, val = setup()
    start, before = copy.deepcopy(model), capture(model, opt)
    rng = torch.get_rng_state()
    tuned = lft.tune_lr(
        model,
        opt,
        data,
        val_data=val,
        total_steps=TOTAL,
        loss_fn=F.mse_loss,
        rates=[1e-5, 1e-4, 1e-3],  # far too low for 24 steps of Adam: the highest wins
        rounds=[(3, 1.0)],
        widen=2,
        progress=False,
    )
    assert_same(before, capture(model, opt))
    assert tuned.rates == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 1e-1], rel=1e-9)
    assert tuned.settings["widen"] == 2 and "added 2 rate(s)" in " ".join(tuned.warnings)
    (last,) = tuned.rounds
    for lr in (1e-2, 1e-1):
        fresh = copy.deepcopy(start)
        torch.set_rng_state(rng)
        train_by_hand(fresh, torch.optim.Adam(fresh.parameters(), lr=lr), data, lr)
        score = last.losses[tuned.rates.index(min(tuned.rates, key=lambda r: abs(r - lr)))]
        assert score == pytest.approx(held_out_loss(fresh, val), rel=1e-6), lr


def test_keep_winner_leaves_the_winners_trained_state() -> None:
    model, opt, data, val = setup()
    start = copy.deepcopy(model)
    tuned = lft.tune_lr(
        model,
        opt,
        data,
        val_data=val,
        total_steps=TOTAL,
        loss_fn=F.mse_loss,
        rates=[1e-3, 1e-2, 3e-2],
        keep="winner",
        progress=False,
    )
    assert tuned.settings["keep"] == "winner"
    final = tuned.rounds[-1]
    assert held_out_loss(model, val) == pytest.approx(min(x for x in final.losses if x == x))
    moved = [
        not torch.equal(a, b) for a, b in zip(model.parameters(), start.parameters(), strict=True)
    ]
    assert all(moved)


def race_twice(**options: Any) -> tuple[dict, dict]:
    """The same race from the same start with ``resume`` on and off, over a shuffling loader:
    each run's result, final state and (with keep="winner") trained model."""
    runs: dict[bool, dict] = {}
    for resume in (True, False):
        if not resume:  # the same rounds (starting over, the default has no middle round)
            options = {**options, "rounds": runs[True]["tuned"].settings["rounds"]}
        model, opt, data, val = setup()
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(*map(torch.cat, zip(*data, strict=True))),
            batch_size=16,
            shuffle=True,  # a pass's order comes from the RNG, which resuming must keep
        )
        torch.manual_seed(1)
        tuned = lft.tune_lr(
            model,
            opt,
            loader,
            val_data=val,
            total_steps=TOTAL * 2,  # a first round past one pass over the loader
            loss_fn=F.mse_loss,
            rates=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
            resume=resume,
            progress=False,
            **options,
        )
        runs[resume] = {"tuned": tuned, "state": capture(model, opt), "rng": torch.get_rng_state()}
    return runs[True], runs[False]


@pytest.mark.parametrize(
    ("options", "counts", "trainings"),
    [
        ({}, [5, 3, 2], 2.8),  # a constant rate going on: the default has a middle round
        # truncated (the default) and nothing kept: the finalists stop at nine tenths
        ({"for_schedule": "one_cycle"}, [5, 2], 2.55),
    ],
    ids=["constant", "truncated"],
)
def test_a_finalist_goes_on_from_its_last_round_with_the_same_losses(
    options: dict, counts: list[int], trainings: float
) -> None:
    resumed, plain = race_twice(**options)
    a, b = resumed["tuned"], plain["tuned"]
    assert [count for count, _ in a.settings["rounds"]] == counts
    assert [r.resumed for r in a.rounds] == [False] + [True] * (len(counts) - 1)
    assert not any(r.resumed for r in b.rounds)
    assert [r.losses for r in a.rounds] == [r.losses for r in b.rounds]  # bit for bit
    assert a.lr == b.lr
    saved = sum(c * r.steps for c, r in zip(counts[1:], a.rounds, strict=False))
    assert b.trial_steps - a.trial_steps == saved
    assert a.trainings == pytest.approx(trainings, abs=0.02)  # steps are whole
    assert_same(resumed["state"], plain["state"])  # both put everything back
    assert torch.equal(resumed["rng"], plain["rng"])


@pytest.mark.parametrize(
    ("options", "rounds"),
    [
        ({"for_schedule": "one_cycle"}, [[5, 0.25], [2, 0.9]]),
        ({"for_schedule": "cosine_annealing"}, [[5, 0.25], [2, 0.9]]),
        ({"for_schedule": "one_cycle", "keep": "winner"}, [[5, 0.25], [2, 1.0]]),
        ({"for_schedule": "one_cycle", "shorten": "compress"}, [[5, 0.25], [2, 1.0]]),
        ({"for_schedule": "constant"}, [[5, 0.2], [3, 0.4], [2, 1.0]]),
    ],
    ids=["one_cycle", "cosine", "keep_winner", "compress", "constant"],
)
def test_a_truncated_race_stops_its_finalists_at_nine_tenths_unless_the_winner_is_kept(
    options: dict, rounds: list[list[float]]
) -> None:
    model, opt, data, val = setup()
    tuned = lft.tune_lr(
        model, opt, data, val_data=val, total_steps=TOTAL * 2, loss_fn=F.mse_loss,
        rates=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1], progress=False, **options,
    )  # fmt: skip
    assert tuned.settings["rounds"] == rounds
    assert tuned.settings["shorten"] == options.get("shorten", "truncate")
    assert tuned.rounds[-1].steps == round(rounds[-1][1] * TOTAL * 2)


def test_keep_winner_keeps_the_same_state_when_resumed() -> None:
    resumed, plain = race_twice(keep="winner")
    assert resumed["tuned"].rounds[1].resumed
    assert_same(resumed["state"], plain["state"])


def test_only_a_constant_rate_or_a_truncated_schedule_resumes_and_every_kept_state_is_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lrfinder.torch._tune as tune_module

    open_ = set()

    class Counted(tune_module.Snapshot):  # type: ignore[name-defined,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            open_.add(id(self))

        def close(self) -> None:
            open_.discard(id(self))
            super().close()

    monkeypatch.setattr(tune_module, "Snapshot", Counted)
    model, opt, data, val = setup()
    cases = [("constant", "compress", True), ("one_cycle", "compress", False)]
    cases += [("one_cycle", "truncate", True), ("cosine_annealing", "truncate", True)]
    for schedule, shorten, resumed in cases:
        tuned = lft.tune_lr(
            model,
            opt,
            data,
            val_data=val,
            total_steps=TOTAL,
            loss_fn=F.mse_loss,
            rates=[1e-3, 3e-3, 1e-2],
            for_schedule=schedule,
            shorten=shorten,
            progress=False,
        )
        assert tuned.rounds[1].resumed is resumed
        assert tuned.settings["shorten"] == shorten
        assert not open_


def test_without_val_data_the_held_out_batches_are_never_trained_on() -> None:
    model, opt, data, _ = setup()
    trained: list[int] = []
    ids = {id(b[0]): i for i, b in enumerate(data)}

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        if m.training:
            trained.append(ids[id(x)])
        return F.mse_loss(m(x), y)

    tuned = lft.tune_lr(
        model,
        opt,
        data,
        total_steps=TOTAL,
        step_fn=step_fn,
        val_batches=3,
        rates=[1e-3, 1e-2],
        progress=False,
    )
    assert tuned.settings["held_out"] == "data" and tuned.settings["val_batches"] == 3
    assert trained and not set(trained) & {0, 1, 2}


def test_an_error_mid_race_restores_everything() -> None:
    model, opt, data, val = setup()
    before = capture(model, opt)
    calls = [0]

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        calls[0] += 1
        if calls[0] > 30:
            raise KeyboardInterrupt
        x, y = batch
        return F.mse_loss(m(x), y)

    with pytest.raises(KeyboardInterrupt):
        lft.tune_lr(
            model,
            opt,
            data,
            val_data=val,
            total_steps=TOTAL,
            step_fn=step_fn,
            rates=[1e-3, 1e-2, 1e-1],
            progress=False,
        )
    assert_same(before, capture(model, opt))


def test_the_raced_schedule_is_the_one_asked_for() -> None:
    model, opt, data, val = setup()
    seen: list[float] = []

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        if m.training:
            seen.append(opt.param_groups[0]["lr"])
        x, y = batch
        return F.mse_loss(m(x), y)

    race = {"val_data": val, "step_fn": step_fn, "rounds": [(2, 1.0)], "progress": False}
    lft.tune_lr(
        model, opt, data, total_steps=20, rates=[0.001, 0.01], for_schedule="onecycle", **race
    )
    assert len(seen) == 40
    for peak, trial in zip([0.001, 0.01], [seen[:20], seen[20:]], strict=True):
        assert max(trial) == pytest.approx(peak, rel=1e-6)  # the candidate is the peak
        assert trial[0] < peak / 10 and trial[-1] < peak / 100  # warm-up from, anneal to, low

    seen.clear()
    shape = lambda lr, steps: lambda i: lr * (i + 1) / steps  # noqa: E731 - any schedule shape
    tuned = lft.tune_lr(
        model, opt, data, total_steps=10, rates=[0.01, 0.02], for_schedule=shape, **race
    )
    assert seen == pytest.approx([lr * (i + 1) / 10 for lr in (0.01, 0.02) for i in range(10)])
    assert tuned.for_schedule == "custom"

    # Truncated, a half-length trial runs the first half of the schedule over total_steps.
    seen.clear()
    race["rounds"] = [(2, 0.5)]
    lft.tune_lr(
        model, opt, data, total_steps=20, rates=[0.001, 0.01], for_schedule="one_cycle",
        shorten="truncate", **race,
    )  # fmt: skip
    full = {lr: lrfinder.schedules.one_cycle(lr, total_steps=20) for lr in (0.001, 0.01)}
    assert seen == pytest.approx([full[lr](i) for lr in (0.001, 0.01) for i in range(10)])
    assert seen[9] > 0.001 / 2  # cut off while annealing, where a compressed one ends low


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"loss_fn": F.mse_loss, "step_fn": lambda m, b: m(b[0]).sum()},
            r"Pass exactly one of `loss_fn`",
        ),
        (
            {"loss_fn": F.mse_loss, "keep": "best"},
            r"`keep` must be 'initial' or 'winner'\. Received: keep='best'",
        ),
        ({"loss_fn": F.mse_loss, "total_steps": 0}, r"`total_steps` must be"),
        (
            {"loss_fn": F.mse_loss, "resume": "yes"},
            r"`resume` must be True or False\. Received: resume='yes'",
        ),
        ({"loss_fn": F.mse_loss, "for_schedule": "zigzag"}, r"Received: for_schedule='zigzag'"),
        (
            {"loss_fn": F.mse_loss, "shorten": "cut"},
            r"`shorten` must be one of 'compress', 'truncate'.*Received: shorten='cut'",
        ),
        (
            {"loss_fn": F.mse_loss, "rates": [0.01], "start_lr": 1e-4},
            r"Range-test options are read only when tune_lr runs the range test itself",
        ),
        (
            {"loss_fn": F.mse_loss, "widen": -1},
            r"`widen` must be an integer of at least 0\. Received: widen=-1",
        ),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(kwargs: dict, message: str) -> None:
    model, opt, data, val = setup()
    options = {"total_steps": TOTAL, "val_data": val, "progress": False, **kwargs}
    with pytest.raises(LRFinderError, match=message):
        lft.tune_lr(model, opt, data, **options)


def test_a_one_shot_iterator_is_refused() -> None:
    model, opt, data, val = setup()
    with pytest.raises(
        LRFinderError, match=r"`data` must be re-iterable .* Received: a one-shot list_iterator"
    ):
        lft.tune_lr(model, opt, iter(data), val_data=val, total_steps=TOTAL, loss_fn=F.mse_loss)


def test_keep_winner_needs_a_last_round_over_the_whole_budget() -> None:
    model, opt, data, val = setup()
    before = capture(model, opt)
    with pytest.raises(LRFinderError, match=r"`keep='winner'` needs the winner trained over all"):
        lft.tune_lr(
            model,
            opt,
            data,
            val_data=val,
            total_steps=TOTAL,
            loss_fn=F.mse_loss,
            rates=[1e-3, 1e-2],
            rounds=[(2, 0.5)],
            keep="winner",
            progress=False,
        )
    assert_same(before, capture(model, opt))


def test_held_out_batches_must_exist_and_leave_some_to_train_on() -> None:
    model, opt, data, _ = setup()
    with pytest.raises(LRFinderError, match=r"The race found no held-out batch; pass `val_data`"):
        lft.tune_lr(model, opt, data, val_data=[], total_steps=TOTAL, loss_fn=F.mse_loss)
    with pytest.raises(
        LRFinderError,
        match=r"`data` has no batch beyond the 2 held out for scoring\. Pass `val_data`",
    ):
        lft.tune_lr(
            model,
            opt,
            data[:2],
            val_batches=2,
            total_steps=TOTAL,
            loss_fn=F.mse_loss,
            rates=[1e-3, 1e-2],
            progress=False,
        )
