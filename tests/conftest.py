"""Shared fixtures: synthetic range-test curves with a known answer, Python's Ctrl-C handler."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import settings

from _curves import sigmoid_curve
from lrfinder import RangeTestResult


@pytest.fixture
def curve() -> RangeTestResult:
    return sigmoid_curve()


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler for the test, also where the suite runs as a background job
    (which starts with SIGINT ignored), put back afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# Hypothesis profiles: "ci" (what .ci/run selects) runs the property tests that take their
# example count from the profile with 2,000 examples; "dev", the default, 100 (Hypothesis's own).
settings.register_profile("ci", max_examples=2000, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
