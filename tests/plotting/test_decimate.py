"""Decimation for drawing (lrfinder/_plotting/_decimate.py): fewer points, the same picture,
spikes kept; and a plot of a million points that draws."""

from __future__ import annotations

import io

import numpy as np
import pytest

import lrfinder
from lrfinder._plotting._decimate import BUCKETS, decimate


def test_short_curves_are_drawn_as_they_are() -> None:
    x = np.arange(100.0)
    y = np.sin(x)
    dx, dy = decimate(x, y)
    assert dx is x and dy is y


def test_each_bucket_keeps_its_lowest_and_highest_point_in_order() -> None:
    rng = np.random.default_rng(0)
    n = 100_003
    x = np.logspace(-7, 1, n)
    y = rng.normal(size=n)
    y[12_345] = 50.0  # a one-step spike
    y[77_777] = -50.0
    dx, dy = decimate(x, y, buckets=500)
    assert dy.size <= 2 * 500 + 2
    assert np.all(np.diff(dx) > 0)  # still in order along the axis
    assert dx[0] == x[0] and dx[-1] == x[-1]
    assert 50.0 in dy and -50.0 in dy
    # Every drawn point is a point of the curve, and every bucket's extremes are drawn.
    index = np.searchsorted(x, dx)
    np.testing.assert_array_equal(y[index], dy)
    width = -(-n // 500)
    for b in range(0, n, width):
        chunk = y[b : b + width]
        assert chunk.max() in dy and chunk.min() in dy


def test_a_plot_of_a_million_points_draws_a_bounded_number_of_them() -> None:
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    lrs = np.logspace(-7, 1, 10**6)
    x = np.log10(lrs)
    losses = 2.3 - np.tanh(x + 3.5) + np.where(x > -1, (x + 1) ** 2, 0.0)
    losses *= 1 + 0.03 * rng.standard_normal(lrs.size)
    result = lrfinder.RangeTestResult(lrs=lrs, losses=losses)
    fig, (top, bottom) = lrfinder.plot_result(result)
    fig.savefig(io.BytesIO(), format="png")  # raised OverflowError: Exceeded cell block limit
    lines = [*top.get_lines(), *bottom.get_lines()]
    drawn = [np.size(line.get_xdata()) for line in lines]
    assert len(drawn) >= 4  # raw and smoothed loss, change per step and its average
    assert max(drawn) <= 2 * BUCKETS + 2
    assert max(drawn) > BUCKETS  # decimated, not dropped
