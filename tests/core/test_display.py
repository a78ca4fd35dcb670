"""Short text reprs, and the hooks through which the presentation layer draws core objects."""

from __future__ import annotations

import numpy as np
import pytest

from _curves import sigmoid_curve
from lrfinder import LRFinderError, RangeTestResult, schedule_from
from lrfinder._core import _display


def test_a_result_repr_is_a_summary_not_its_arrays() -> None:
    lrs = np.logspace(-7, 1, 5000)
    losses = np.linspace(3.0, 1.0, 5000)
    val = np.full(5000, np.nan)
    val[::100] = 2.0
    result = RangeTestResult(
        lrs=lrs,
        losses=losses,
        group_lrs=np.stack([lrs, lrs / 10], axis=1),
        settings={"mode": "exp"},
        val_losses=val,
        stop_reason="diverged",
    )
    text = repr(result)
    assert text == (
        "RangeTestResult(steps=5000, lrs=1e-07..10, mode='exp', groups=2, val_losses=50, "
        "lowest_loss=1, stop_reason='diverged')"
    )
    assert repr(RangeTestResult(lrs=[0.1, 1.0], losses=[np.nan, np.inf])).endswith(
        "lowest_loss=none finite, stop_reason='completed')"
    )


def test_a_schedule_choice_repr_names_its_bounds_not_its_functions() -> None:
    choice = schedule_from(sigmoid_curve(), "triangular", total_steps=1000)
    text = repr(choice)
    assert text.startswith("ScheduleChoice(policy='triangular', total_steps=1000, base_lr=")
    assert "function" not in text and "<" not in text
    assert "momentum cycle" in repr(schedule_from(sigmoid_curve(), "one_cycle", total_steps=10))


def test_html_is_none_for_a_kind_nobody_draws() -> None:
    class Unknown:
        pass

    assert _display.html(Unknown()) is None


def test_present_without_a_provider_says_to_import_lrfinder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_display, "_PROVIDED", {})
    with pytest.raises(
        LRFinderError, match=r"Nothing draws 'plot:RangeTestResult'.*import lrfinder"
    ):
        sigmoid_curve().plot()
    assert sigmoid_curve()._repr_html_() is None  # Jupyter then shows the text repr
