import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _reference_reading import loop_ema
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


@given(st.lists(st.floats(-1e6, 1e6), max_size=40), st.integers(1, 60), st.booleans())
def test_sma_matches_the_plain_loop_at_any_length_and_window(
    values: list[float], window: int, centred: bool
) -> None:
    # Windows longer than the curve, and the empty curve, included: both edges cut one window.
    arr = np.array(values, dtype=float)
    before, after = (window // 2, (window - 1) // 2) if centred else (window - 1, 0)
    expected = [arr[max(0, i - before) : i + after + 1].mean() for i in range(arr.size)]
    np.testing.assert_allclose(sma(arr, window, centred=centred), expected, rtol=1e-9, atol=1e-6)


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


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.79, 0.9, 0.95, 0.98, 0.999, 0.99999])
def test_vectorised_ema_equals_the_loop_on_random_curves(beta: float) -> None:
    # Every length around the block sizes (16..256) and past several levels of blocks.
    rng = np.random.default_rng(int(beta * 1e5))
    for n in [1, 2, 15, 16, 17, 255, 256, 257, 4097, 70_000]:
        values = rng.normal(size=n) * 10 ** rng.uniform(-3, 3) + rng.normal() * 5
        expected = loop_ema(values, beta)
        scale = np.max(np.abs(values))
        np.testing.assert_allclose(ema(values, beta), expected, rtol=1e-10, atol=1e-13 * scale)
        backward = loop_ema(values[::-1], beta)[::-1]
        np.testing.assert_allclose(
            ema(values, beta, centred=True),
            0.5 * (expected + backward),
            rtol=1e-10,
            atol=1e-13 * scale,
        )


@pytest.mark.parametrize("beta", [0.0, 0.6, 0.95])
def test_vectorised_ema_after_nan_or_inf_is_what_the_loop_gives(beta: float) -> None:
    rng = np.random.default_rng(1)
    for bad in ([np.nan], [np.inf], [-np.inf], [np.inf, -np.inf], [np.inf, np.nan]):
        values = rng.normal(size=300)
        for k, value in enumerate(bad):
            values[100 + 50 * k] = value
        with np.errstate(invalid="ignore"):
            expected = loop_ema(values, beta)
        got = ema(values, beta)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])
        np.testing.assert_allclose(got[:100], expected[:100], rtol=1e-10, atol=1e-13)


def test_vectorised_ema_at_the_float_maximum_neither_overflows_nor_warns() -> None:
    values = np.array([1.7e308, -1.7e308, 1.0e308, 1.7e308] * 100)
    for beta in (0.5, 0.95, 0.99):
        got = ema(values, beta)  # warnings are errors in the suite
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, loop_ema(values, beta), rtol=1e-10, atol=1e295)


def test_a_flat_curve_stays_exactly_flat() -> None:
    # A reading tells a flat curve by a fall of exactly zero: no rounding may invent one.
    for value in (0.1, 2.302585092994046, -7.0):
        for beta in (0.9, 0.95, 0.98):
            for centred in (False, True):
                assert np.all(ema(np.full(5000, value), beta, centred=centred) == value)
