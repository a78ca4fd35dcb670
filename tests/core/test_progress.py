"""The range test's progress bar (lrfinder/_core/_progress.py): ticks and throttled figures."""

from __future__ import annotations

import io
from typing import Any

import pytest

pytest.importorskip("tqdm")

import lrfinder
from lrfinder._core import _progress


def test_the_bar_ticks_every_step_but_formats_its_figures_a_few_times_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = {"now": 100.0}
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr("sys.stderr", io.StringIO())
    bar = _progress.StepBar(True, 40)
    postfixes: list[dict[str, Any]] = []
    real = bar._bar.set_postfix

    def spy(**kwargs: Any) -> None:
        postfixes.append(kwargs)
        real(**kwargs)

    bar._bar.set_postfix = spy
    rt = lrfinder.RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=40)
    for _ in range(40):  # 40 steps, 0.01 s apart: 0.39 s in all
        rt.record(1.0)
        bar.step(rt)
        clock["now"] += 0.01
    assert bar._bar.n == 40
    # At the first step, then once POSTFIX_EVERY_S (0.25 s) later.
    assert len(postfixes) == 2
    assert postfixes[0]["lr"] == "1.00e-04" and postfixes[0]["loss"] == "1"
    bar.close()


def test_a_disabled_bar_does_nothing() -> None:
    bar = _progress.progress_bar(False, 10)
    rt = lrfinder.RangeTest(num_steps=10)
    rt.record(1.0)
    bar.step(rt)
    bar.close()
    assert bar._bar is None
