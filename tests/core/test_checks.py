"""The shared argument checks: every real number type is a number, a bool is not."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderError, RangeTest, sweep
from lrfinder._core._checks import check_count, check_rate, check_real, is_real
from lrfinder._core._sweep import sweep_lr


@pytest.mark.parametrize(
    "value", [1e-3, 1, np.float32(1e-3), np.float64(1e-3), np.int64(2), Fraction(1, 1000)]
)
def test_every_real_number_type_is_a_rate(value: object) -> None:
    assert is_real(value)
    assert check_rate("lr", value) == pytest.approx(float(value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [True, np.bool_(True), "0.1", None, math.nan, math.inf, 0, -1e-3, 10**400]
)
def test_bools_strings_and_non_finite_are_refused(value: object) -> None:
    with pytest.raises(LRFinderError, match=r"`lr` must be a finite number above 0. Received: lr="):
        check_rate("lr", value)


def test_check_real_names_its_bounds() -> None:
    assert check_real("beta", 0, at_least=0.0, below=1.0) == 0.0
    with pytest.raises(
        LRFinderError, match=r"`beta` must be a finite number at least 0 and below 1"
    ):
        check_real("beta", 1.0, at_least=0.0, below=1.0)
    with pytest.raises(
        LRFinderError, match=r"`x` must be a finite number at most 2. Received: x=3"
    ):
        check_real("x", 3, at_most=2)
    with pytest.raises(LRFinderError, match=r"`n` must be an integer of at least 1"):
        check_count("n", np.bool_(True))


def test_numpy_scalars_drive_a_sweep() -> None:
    rt = RangeTest(start_lr=np.float32(1e-3), end_lr=np.float64(1.0), num_steps=np.int64(3))
    assert rt.lr == pytest.approx(1e-3) and isinstance(rt.lr, float)
    result = lrfinder.find_lr(lambda lr: 1.0, start_lr=np.float32(1e-3), end_lr=1, num_steps=3)
    assert result.steps == 3
    with pytest.raises(LRFinderError, match=r"`start_lr` must be a finite number above 0"):
        RangeTest(start_lr=True, end_lr=10.0)
    with pytest.raises(LRFinderError, match=r"`smooth_beta` must be in \[0, 1\)"):
        RangeTest(smooth_beta=True)
    with pytest.raises(LRFinderError, match=r"`diverge_threshold` must be a number above 1"):
        RangeTest(diverge_threshold=np.bool_(True))


def test_sweep_lr_checks_every_argument() -> None:
    kw = {"start_lr": 1e-3, "end_lr": 1.0, "num_steps": 3}
    assert sweep_lr(1, **kw) == pytest.approx(sweep(**kw)[1])
    with pytest.raises(
        LRFinderError, match=r"`mode` must be one of exp, linear. Received: mode='EXP'"
    ):
        sweep_lr(1, **kw, mode="EXP")
    with pytest.raises(LRFinderError, match=r"`start_lr` must be a finite number above 0"):
        sweep_lr(1, start_lr=0, end_lr=1.0, num_steps=3)
    with pytest.raises(LRFinderError, match=r"`num_steps` must be an integer of at least 2"):
        sweep_lr(1, start_lr=1e-3, end_lr=1.0, num_steps=1.5)  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"`step` must be an integer of at least 0"):
        sweep_lr(-1, **kw)
