"""Notebooks, executed in a real Jupyter kernel: what each result shows, and the examples.

Rich display is checked the way a user meets it: a cell's last value, rendered by IPython's
display machinery in a kernel, not by calling ``_repr_html_`` by hand. The Keras example runs
on JAX, in the JAX pass (tests/test_examples.py), so this run never starts JAX.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from _notebooks import execute, outputs, read, shown, stderr

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("matplotlib")

# No framework: a synthetic curve, the core's find_lr and tune_lr, so this runs in seconds.
DISPLAY_CELLS = [
    """import numpy as np
import lrfinder

def step(lr):
    x = np.log10(lr)
    return float(2 / (1 + np.exp(3 * (x + 2))) + (lr > 0.3) * (lr / 0.3) ** 2)

result = lrfinder.find_lr(step, start_lr=1e-6, end_lr=10, num_steps=100)
result""",
    "result.suggestion",
    "result.plot()",
    """fig, axes = lrfinder.plot_result(result, skip_start=10)
fig""",
    """choice = lrfinder.schedule_from(result, "one_cycle", total_steps=1000)
choice""",
    """def trial(lr, steps):
    return float(np.log10(lr / 3e-3) ** 2 + 10 / steps)

tuned = lrfinder.tune_lr(trial, result=result, budget_steps=100)
tuned""",
]


@pytest.fixture(scope="module")
def display(tmp_path_factory: pytest.TempPathFactory) -> object:
    tmp_path = tmp_path_factory.mktemp("display")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in DISPLAY_CELLS]
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        return execute(notebook, tmp_path, monkeypatch)


def _png(data: dict[str, object]) -> bytes:
    return base64.b64decode(str(data["image/png"]))


@pytest.mark.parametrize(
    ("last_line", "title", "plot"),
    [
        ("result", "RangeTestResult: ", True),
        ("result.suggestion", "Suggestion: ", False),
        ("choice", "ScheduleChoice: one_cycle over 1000 steps", True),
        ("tuned", "TuneResult: ", True),
    ],
)
def test_each_result_shows_a_table_and_its_plot(
    display: object, last_line: str, title: str, plot: bool
) -> None:
    data = shown(display, last_line)
    html = str(data["text/html"])
    assert title in html and "<table>" in html
    assert ("data:image/png;base64," in html) is plot
    # The text form stays short: no arrays, no function objects.
    text = str(data["text/plain"])
    assert len(text) < 200 and "array(" not in text and "<function" not in text


def test_the_result_table_lists_every_method(display: object) -> None:
    import lrfinder

    html = str(shown(display, "result")["text/html"])
    assert all(
        f"<td style='text-align:left'>{m}" in html for m in lrfinder.methods() if m != "fall"
    )
    assert "<b>fall (default)</b>" in html


@pytest.mark.parametrize("last_line", ["result.plot()", "fig"])
def test_plots_and_figures_show_as_images_without_matplotlib_inline(
    display: object, last_line: str
) -> None:
    data = shown(display, last_line)
    assert _png(data)[:4] == b"\x89PNG"


def test_progress_bars_show_without_the_ipywidgets_warning(display: object) -> None:
    text = stderr(display)
    assert "range test" in text and "race" in text  # the text bars ran
    assert "IProgress" not in text and "Warning" not in text


# -- the example notebooks -------------------------------------------------------------------


def test_pytorch_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    notebook = execute(read("pytorch.ipynb"), tmp_path, monkeypatch)
    assert "<table>" in str(shown(notebook, "result")["text/html"])
    assert _png(shown(notebook, 'result.plot(skip_start=10, methods=["fall", "valley"])'))
    (trained,) = outputs(notebook, "assert after < before / 2")
    assert "held-out loss" in trained.text


def test_fine_tuning_example_keeps_the_groups_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    notebook = execute(read("finetune_groups.ipynb"), tmp_path, monkeypatch)
    printed = outputs(
        notebook, 'print(f"ratio head / backbone: {ratios.min():.6g} to {ratios.max():.6g}")'
    )
    assert "ratio head / backbone: 10 to 10" in printed[0].text


def test_race_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    notebook = execute(read("race.ipynb"), tmp_path, monkeypatch)
    assert "TuneResult: " in str(shown(notebook, "tuned")["text/html"])
    assert "ScheduleChoice: one_cycle" in str(shown(notebook, "choice")["text/html"])
    assert "IProgress" not in stderr(notebook)
