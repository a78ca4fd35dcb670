"""Every registered method on finite but extreme losses: a rate inside the sweep, or
NoSuggestionError; never NaN, never another exception (and no overflow warning: warnings are
errors in the suite)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrfinder
from lrfinder import NoSuggestionError, RangeTestResult, Suggestion

# These curves are untrustworthy by design: the warning is expected, the promise is a rate or
# NoSuggestionError, never NaN or a crash.
pytestmark = pytest.mark.filterwarnings("ignore::lrfinder.LRFinderWarning")

BIG = 1.7e308
extreme = st.one_of(
    st.sampled_from([BIG, -BIG, 1.797e308, -1.797e308, 5e-324, -5e-324, 0.0, 1.0, 2.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)


def check_every_method(losses: list[float]) -> None:
    lrs = np.logspace(-5, 0, len(losses))
    result = RangeTestResult(lrs=lrs, losses=losses)
    for method in lrfinder.methods():
        try:
            s = lrfinder.suggest(result, method)
        except NoSuggestionError:
            continue
        assert isinstance(s, Suggestion)
        assert math.isfinite(s.lr) and lrs[0] <= s.lr <= lrs[-1], (method, s)
        assert math.isfinite(s.low) and math.isfinite(s.high), (method, s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(extreme, min_size=5, max_size=60))
def test_every_method_on_extreme_finite_losses(losses: list[float]) -> None:
    check_every_method(losses)


@pytest.mark.parametrize(
    "losses",
    [
        [BIG, -BIG] * 20,  # the centred average of these overflowed: fall said lr=nan
        list(np.linspace(1, -1, 40) * BIG),
        [*np.linspace(2, 1, 30), *[BIG] * 10],  # a blow-up to the float maximum
    ],
)
def test_curves_near_the_float_maximum_are_read(losses: list[float]) -> None:
    check_every_method(losses)
    assert math.isfinite(lrfinder.suggest((np.logspace(-5, 0, len(losses)), losses)).lr)


def test_a_blow_up_to_the_maximum_leaves_the_rest_of_the_curve_as_it_was() -> None:
    lrs = np.logspace(-5, 0, 40)
    fall = [*np.linspace(2, 1, 30), *[50.0] * 10]
    huge = [*np.linspace(2, 1, 30), *[BIG] * 10]
    assert lrfinder.suggest((lrs, huge)) == lrfinder.suggest((lrs, fall))
