"""The range test's progress bar: tqdm.auto, quiet in a notebook without ipywidgets."""

from __future__ import annotations

import sys
import types
import warnings

import pytest

from lrfinder._core._progress import StepBar

tqdm = pytest.importorskip("tqdm")


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
