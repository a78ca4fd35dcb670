import numpy as np
import pytest

from lrfinder import LRFinderError, sweep, sweep_lr


@pytest.mark.parametrize("mode", ["exp", "linear"])
@pytest.mark.parametrize(("start", "end", "n"), [(1e-7, 10.0, 100), (3e-5, 0.7, 7), (0.1, 0.2, 2)])
def test_endpoints_are_exact(mode: str, start: float, end: float, n: int) -> None:
    lrs = sweep(start_lr=start, end_lr=end, num_steps=n, mode=mode)
    assert lrs[0] == start
    assert lrs[-1] == end
    assert lrs.size == n
    assert np.all(np.diff(lrs) > 0)


def test_exponential_sweep_has_constant_ratio() -> None:
    lrs = sweep(start_lr=1e-6, end_lr=1.0, num_steps=61)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], 10**0.1, rtol=1e-12)
    np.testing.assert_allclose(lrs, np.logspace(-6, 0, 61), rtol=1e-12)


def test_linear_sweep_has_constant_step() -> None:
    lrs = sweep(start_lr=0.1, end_lr=1.0, num_steps=10, mode="linear")
    np.testing.assert_allclose(lrs, np.linspace(0.1, 1.0, 10), rtol=1e-12)


def test_steps_past_the_end_stay_at_end_lr() -> None:
    assert sweep_lr(500, start_lr=1e-3, end_lr=1.0, num_steps=10) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 0.0}, r"`start_lr` must be a finite number above 0. Received: start_lr=0.0"),
        ({"start_lr": -1e-3}, r"Received: start_lr=-0.001"),
        (
            {"end_lr": float("nan")},
            r"`end_lr` must be a finite number above 0. Received: end_lr=nan",
        ),
        (
            {"start_lr": 1.0, "end_lr": 0.1},
            r"`start_lr` must be below `end_lr`. Received: start_lr=1.0, end_lr=0.1",
        ),
        ({"num_steps": 1}, r"`num_steps` must be an integer of at least 2. Received: num_steps=1"),
        ({"num_steps": 10.5}, r"Received: num_steps=10.5"),
        ({"mode": "cosine"}, r"`mode` must be one of exp, linear. Received: mode='cosine'"),
    ],
)
def test_bad_sweeps_raise(kwargs: dict, match: str) -> None:
    settings = {"start_lr": 1e-7, "end_lr": 10.0, "num_steps": 100, "mode": "exp", **kwargs}
    with pytest.raises(LRFinderError, match=match):
        sweep(**settings)
