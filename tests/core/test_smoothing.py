import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrfinder import LRFinderError, ema, sma


def test_ema_does_not_start_at_zero() -> None:
    values = np.full(20, 3.0)
    for centred in (False, True):
        np.testing.assert_allclose(ema(values, 0.98, centred=centred), 3.0, rtol=1e-12)


def test_causal_ema_matches_the_definition() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=50)
    beta, avg, expected = 0.9, 0.0, []
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        expected.append(avg / (1 - beta ** (i + 1)))
    np.testing.assert_allclose(ema(values, beta), expected, rtol=1e-12)


def test_causal_ema_sees_only_the_past() -> None:
    values = np.zeros(30)
    values[20] = 1.0
    assert np.all(ema(values, 0.9)[:20] == 0.0)
    assert np.all(sma(values, 5)[:20] == 0.0)


def test_centred_smoothing_keeps_a_step_in_place() -> None:
    # A symmetric bump stays centred: a causal average would shift its peak to the right.
    x = np.exp(-0.5 * ((np.arange(101) - 50) / 4.0) ** 2)
    assert int(np.argmax(ema(x, 0.8, centred=True))) == 50
    assert int(np.argmax(sma(x, 9, centred=True))) == 50
    assert int(np.argmax(ema(x, 0.8))) > 50


def test_sma_against_a_plain_loop() -> None:
    values = np.arange(1.0, 11.0) ** 2
    for w in (1, 2, 3, 4, 10, 15):
        causal = [values[max(0, i - w + 1) : i + 1].mean() for i in range(10)]
        centred = [values[max(0, i - w // 2) : i + (w - 1) // 2 + 1].mean() for i in range(10)]
        np.testing.assert_allclose(sma(values, w), causal, rtol=1e-12)
        np.testing.assert_allclose(sma(values, w, centred=True), centred, rtol=1e-12)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.floats(0, 0.999))
def test_smoothing_stays_within_the_data(values: list[float], beta: float) -> None:
    arr = np.array(values)
    lo, hi = arr.min() - 1e-6 * (1 + abs(arr.min())), arr.max() + 1e-6 * (1 + abs(arr.max()))
    for out in (
        ema(arr, beta),
        ema(arr, beta, centred=True),
        sma(arr, 3),
        sma(arr, 4, centred=True),
    ):
        assert np.all((out >= lo) & (out <= hi))


def test_bad_arguments_raise() -> None:
    with pytest.raises(LRFinderError, match=r"`beta` must be in \[0, 1\). Received: beta=1.0"):
        ema([1.0], 1.0)
    with pytest.raises(
        LRFinderError, match=r"`window` must be an integer of at least 1. Received: window=0"
    ):
        sma([1.0], 0)
    with pytest.raises(LRFinderError, match=r"must be one-dimensional. Received shape \(1, 1\)"):
        sma([[1.0]], 2)


def _recurrence(values: np.ndarray, beta: float) -> np.ndarray:
    avg, out = 0.0, []
    for i, v in enumerate(values.tolist()):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
    return np.array(out)


@pytest.mark.parametrize("beta", [0.0, 1e-9, 0.3, 0.9, 0.95, 0.98, 0.9999])
def test_the_vectorised_ema_matches_the_recurrence_across_its_blocks(beta: float) -> None:
    # 20,000 points span many blocks for small betas (a block ends before beta**-m reaches
    # 1e100) and one block for 0.9999.
    values = np.random.default_rng(1).normal(loc=3.0, size=20_000)
    np.testing.assert_allclose(ema(values, beta), _recurrence(values, beta), rtol=1e-11)


def test_huge_and_non_finite_losses_smooth_as_the_recurrence_does() -> None:
    values = np.array([1.0, 1.7e308, -1.7e308, 2.0, np.inf, 1.0, np.nan, 3.0])
    np.testing.assert_array_equal(ema(values, 0.9), _recurrence(values, 0.9))
