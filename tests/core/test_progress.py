"""The range test's progress bar (lrfinder/_core/_progress.py): tqdm.auto, quiet in a notebook
without ipywidgets; ticks and throttled figures."""

from __future__ import annotations

import io
import sys
import types
import warnings
from typing import Any

import pytest

pytest.importorskip("tqdm")

import lrfinder
from lrfinder._core import _progress
from lrfinder._core._progress import StepBar


def test_a_notebook_without_ipywidgets_gets_the_text_bar_and_no_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tqdm.auto warns "IProgress not found" on its first import in a kernel that lacks
    ipywidgets (as an error, it would be swallowed by tqdm itself: so they are recorded)."""
    ipython = pytest.importorskip("IPython")
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setattr(ipython, "get_ipython", lambda: shell)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` fails
    for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bar = StepBar(True, total=3)
    assert [str(w.message) for w in caught] == []
    from tqdm.std import tqdm as text_bar

    assert isinstance(bar._bar, text_bar)
    bar.close()


def test_progress_false_draws_nothing() -> None:
    assert StepBar(False, total=3)._bar is None


def test_the_bar_counts_every_step_but_hands_them_over_and_formats_a_few_times_a_second(
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
    updates: list[int] = []
    real_update = bar._bar.update
    bar._bar.update = lambda n=1: updates.append(n) or real_update(n)
    rt = lrfinder.RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=42)
    for _ in range(40):  # 40 steps, 0.01 s apart: 0.39 s in all
        rt.record(1.0)
        bar.step(rt)
        clock["now"] += 0.01
    # Handed to tqdm at the first step, then every TICK_EVERY_S (0.05 s): 5 steps at a time.
    assert updates[:3] == [1, 5, 5] and len(updates) == 8 and bar._bar.n == 36
    # The figures at the first step, then once POSTFIX_EVERY_S (0.25 s) later.
    assert len(postfixes) == 2
    assert postfixes[0]["lr"] == "1.00e-04" and postfixes[0]["loss"] == "1"
    bar.close()  # the steps not handed over yet go with the close
    assert bar._bar.n == 40


def test_a_slow_step_ticks_the_bar_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"now": 100.0}
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr("sys.stderr", io.StringIO())
    bar = _progress.StepBar(True, 5)
    rt = lrfinder.RangeTest(num_steps=5)
    for k in range(3):
        rt.record(1.0)
        bar.step(rt)
        assert bar._bar.n == k + 1
        clock["now"] += 1.0
    bar.close()


def test_a_disabled_bar_does_nothing() -> None:
    bar = _progress.progress_bar(False, 10)
    rt = lrfinder.RangeTest(num_steps=10)
    rt.record(1.0)
    bar.step(rt)
    bar.close()
    assert bar._bar is None
