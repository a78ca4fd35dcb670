"""Repeated range tests: every repeat run once, on its own index, and read together."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderError, RangeTestResult, find_lr_repeated


def noisy_bowl(k: int, *, noise: float = 0.02) -> RangeTestResult:
    """A range test on a quadratic bowl whose loss carries noise seeded by ``k``."""
    rng, w = np.random.default_rng(k), [0.0]

    def step(lr: float) -> float:
        loss = (w[0] - 3.0) ** 2 + noise * float(rng.standard_normal())
        w[0] -= lr * 2 * (w[0] - 3.0)
        return loss

    return lrfinder.find_lr(step, start_lr=1e-4, end_lr=10, num_steps=80, progress=False)


def test_each_repeat_runs_once_with_its_index() -> None:
    seen: list[int] = []

    def find(k: int) -> RangeTestResult:
        seen.append(k)
        return noisy_bowl(k)

    results = find_lr_repeated(find, repeats=4)
    assert seen == [0, 1, 2, 3]
    for k, result in enumerate(results):
        np.testing.assert_array_equal(result.losses, noisy_bowl(k).losses)


def test_suggest_reads_them_as_median_and_spread() -> None:
    results = find_lr_repeated(noisy_bowl, repeats=3)
    single = [math.log10(lrfinder.suggest(r).lr) for r in results]
    combined = lrfinder.suggest(results)
    assert combined.lr == pytest.approx(10 ** float(np.median(single)))
    assert combined.spread == pytest.approx(float(np.std(single)))
    assert "median of 3 sweeps" in combined.reason


def test_the_same_curve_twice_is_refused() -> None:
    calls: list[int] = []

    def replay(k: int) -> RangeTestResult:
        calls.append(k)
        return noisy_bowl(0)

    with pytest.raises(LRFinderError, match=r"the very same curve.*seed it with its index"):
        find_lr_repeated(replay, repeats=5)
    assert calls == [0, 1]  # stops as soon as it can tell, not after every repeat


@pytest.mark.parametrize("repeats", [1, 0, 2.0, True])
def test_repeats_must_be_an_integer_of_at_least_two(repeats: object) -> None:
    with pytest.raises(LRFinderError, match=r"`repeats` must be an integer of at least 2.*Rece"):
        find_lr_repeated(noisy_bowl, repeats=repeats)  # type: ignore[arg-type]


def test_find_must_be_callable() -> None:
    with pytest.raises(LRFinderError, match=r"`find` must be a callable.*Received: list"):
        find_lr_repeated([noisy_bowl(0)])  # type: ignore[arg-type]


def test_find_must_return_a_result() -> None:
    with pytest.raises(LRFinderError, match=r"must return a RangeTestResult\. Received: tuple"):
        find_lr_repeated(lambda k: ([1.0], [2.0]))  # type: ignore[arg-type,return-value]


def test_torch_recipe_gives_other_batches_and_leaves_the_rng_alone() -> None:
    torch = pytest.importorskip("torch")
    import lrfinder.torch

    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = (x[:, 0] > 0).long()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True
    )
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weights = [p.detach().clone() for p in model.parameters()]

    def sweep(k: int) -> RangeTestResult:
        with torch.random.fork_rng():
            torch.manual_seed(k)
            return lrfinder.torch.find_lr(
                model,
                optimizer,
                loader,
                loss_fn=torch.nn.functional.cross_entropy,
                num_steps=30,
                progress=False,
            )

    rng_before = torch.get_rng_state()
    results = find_lr_repeated(sweep, repeats=3)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), weights, strict=True))
    assert not np.array_equal(results[0].losses, results[1].losses)
    # Every repeat starts from the same weights, so the first losses differ only by the batch.
    assert len({round(float(r.losses[0]), 6) for r in results}) == 3
