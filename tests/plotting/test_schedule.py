"""plot_schedule: draws exactly the schedule's values, on a bare Figure or a given Axes."""

from __future__ import annotations

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderError, schedules

pytest.importorskip("matplotlib")


def test_draws_the_schedule_and_its_momentum() -> None:
    lr = schedules.one_cycle(0.1, total_steps=300)
    momentum = schedules.one_cycle_momentum(total_steps=300)
    fig, ax = lrfinder.plot_schedule(lr, 300, momentum=momentum)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [lr(i) for i in range(300)])
    twin = [a for a in fig.axes if a is not ax]
    assert len(twin) == 1
    np.testing.assert_array_equal(
        twin[0].get_lines()[0].get_ydata(), [momentum(i) for i in range(300)]
    )
    assert "peak 0.1" in ax.get_title()


def test_uses_the_given_axes_and_log_scale() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    got_fig, got_ax = lrfinder.plot_schedule(
        schedules.exponential_decay(1.0, gamma=0.9), 50, ax=ax, log=True, title="decay"
    )
    assert got_fig is fig and got_ax is ax
    assert ax.get_yscale() == "log" and ax.get_title() == "decay"


def test_bad_steps() -> None:
    with pytest.raises(LRFinderError, match=r"`steps` must be an integer of at least 1"):
        lrfinder.plot_schedule(schedules.constant(0.1), 0)


def test_docstring_example() -> None:
    import doctest

    import lrfinder._plotting._schedule

    failed, attempted = doctest.testmod(lrfinder._plotting._schedule)
    assert failed == 0 and attempted > 0
