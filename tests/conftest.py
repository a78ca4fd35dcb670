"""Shared fixtures: synthetic range-test curves with a known answer."""

from __future__ import annotations

import pytest

from _curves import sigmoid_curve
from lrfinder import RangeTestResult


@pytest.fixture
def curve() -> RangeTestResult:
    return sigmoid_curve()
