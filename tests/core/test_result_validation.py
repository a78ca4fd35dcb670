"""RangeTestResult.val_losses: stored beside the training loss, saved, loaded, read as a curve."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lrfinder import LRFinderError, RangeTestResult, ResultFileError

NAN = math.nan


def result(val: list[float] | None) -> RangeTestResult:
    return RangeTestResult(
        lrs=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        losses=[2.0, 1.8, 1.0, 0.9, 5.0],
        group_lrs=[[1e-4, 1e-3], [1e-3, 1e-2], [1e-2, 1e-1], [1e-1, 1.0], [1.0, 10.0]],
        stop_reason="diverged",
        settings={"smooth_beta": 0.5},
        val_losses=val,
    )


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_val_losses_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    r = result([2.1, NAN, 1.2, NAN, math.inf])
    loaded = RangeTestResult.load(r.save(tmp_path / f"r{suffix}"))
    assert loaded.val_losses is not None
    assert np.array_equal(loaded.val_losses, r.val_losses, equal_nan=True)
    if suffix == ".json":
        assert loaded == r


def test_results_without_validation_are_written_as_before() -> None:
    r = result(None)
    assert "val_losses" not in r.to_dict()
    assert "val_loss" not in r.to_csv().partition("\n")[0]
    assert RangeTestResult.from_csv(r.to_csv()).val_losses is None
    assert r != result([1.0] * 5)
    assert result([1.0] * 5) != result([1.0, 1.0, 1.0, 1.0, 2.0])


def test_validation_curve_keeps_measured_steps_with_their_rates() -> None:
    r = result([2.1, NAN, 1.2, NAN, math.inf])
    view = r.validation_curve()
    assert np.array_equal(view.lrs, [1e-4, 1e-2, 1.0])
    assert np.array_equal(view.losses, [2.1, 1.2, math.inf])
    assert np.array_equal(view.group_lrs, r.group_lrs[[0, 2, 4]])
    assert view.stop_reason == r.stop_reason and view.settings["curve"] == "validation"
    expected = RangeTestResult(lrs=view.lrs, losses=view.losses, settings={"smooth_beta": 0.5})
    assert np.array_equal(view.smoothed_losses, expected.smoothed_losses, equal_nan=True)


@pytest.mark.parametrize("val", [None, [NAN] * 5])
def test_validation_curve_needs_validation_losses(val: list[float] | None) -> None:
    with pytest.raises(LRFinderError, match=r"no validation losses.*val_data="):
        result(val).validation_curve()


def test_val_losses_need_one_value_per_step() -> None:
    with pytest.raises(LRFinderError, match=r"`val_losses` must have one value per step"):
        result([1.0, 2.0])
    with pytest.raises(LRFinderError, match=r"`val_losses` must have 1 dimension"):
        result([[1.0]] * 5)  # type: ignore[list-item]


# -- results that would save but not load back, and files that crashed `load` ----------------

BASE = '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [0.1, 0.2], "losses": [1, 2]'


def test_a_result_needs_a_step() -> None:
    with pytest.raises(LRFinderError, match=r"A result needs at least one step"):
        RangeTestResult(lrs=[], losses=[])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"group_lrs": [[0.1, NAN], [0.2, 1.0]]}, r"Every rate in `group_lrs` must be finite"),
        (
            {"group_lrs": [[0.1], [-1.0]]},
            r"Every rate in `group_lrs` must be finite and at least 0",
        ),
        ({"group_lrs": [[], []]}, r"`group_lrs` must have at least one column"),
        ({"timings": {"sweep_s": math.inf}}, r"`timings\['sweep_s'\]` must be a finite number"),
        ({"timings": {"sweep_s": "1.0"}}, r"`timings\['sweep_s'\]` must be a finite number"),
        ({"timings": {"sweep_s": None}}, r"`timings\['sweep_s'\]` must be a finite number"),
        ({"timings": {"sweep_s": {}}}, r"`timings\['sweep_s'\]` must be a finite number"),
        ({"timings": [1.0]}, r"`timings` must be a mapping. Received a list"),
        ({"settings": "x"}, r"`settings` must be a mapping. Received a str"),
        ({"settings": {"smooth_beta": "x"}}, r"`settings\['smooth_beta'\]` must be a finite"),
        ({"settings": {"smooth_beta": 1.5}}, r"`settings\['smooth_beta'\]`.*below 1"),
        ({"stop_reason": 3}, r"`stop_reason` must be one of"),
    ],
)
def test_the_constructor_refuses_what_save_or_load_would(kwargs: dict, match: str) -> None:
    with pytest.raises(LRFinderError, match=match):
        RangeTestResult(lrs=[0.1, 0.2], losses=[1.0, 2.0], **kwargs)


def test_settings_nested_deeper_than_options_are_refused() -> None:
    deep: dict = {}
    for _ in range(900):
        deep = {"a": deep}
    with pytest.raises(LRFinderError, match=r"`settings` nests lists or dicts more than 32"):
        RangeTestResult(lrs=[0.1], losses=[1.0], settings=deep)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (BASE + ', "timings": {"sweep_s": "fast"}}', r"Invalid result: `timings\['sweep_s'\]`"),
        (BASE + ', "timings": {"sweep_s": null}}', r"Invalid result: `timings\['sweep_s'\]`"),
        (BASE + ', "settings": {"smooth_beta": {}}}', r"`settings\['smooth_beta'\]`"),
        (BASE + ', "settings": {"smooth_beta": "x"}}', r"`settings\['smooth_beta'\]`"),
        (BASE.replace("[1, 2]", "[1, " + "9" * 400 + "]") + "}", r"`losses` must hold numbers"),
        (BASE + ', "group_lrs": [[' + "9" * 400 + "], [1]]}", r"`group_lrs` must hold numbers"),
        (BASE.replace("[1, 2]", "[1, " + "9" * 5000 + "]") + "}", r"is not valid JSON"),
        (BASE + ', "settings": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}", r"nests lists"),
        (BASE + ', "stop_reason": ' + "9" * 4000 + "}", r"`stop_reason` must be one of"),
        (BASE + ', "group_lrs": [["nan"], [1]]}', r"Every rate in `group_lrs` must be finite"),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [], "losses": []}',
            r"Invalid result: A result needs at least one step",
        ),
    ],
)
def test_malformed_json_is_a_result_file_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=match):
        RangeTestResult.load(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("lr,loss\n", r"The CSV file has a header but no rows: no step was logged"),
        ("lr,loss\n0.1," + "1" * 200_000 + "\n", r"Not a readable CSV file: it has a cell far"),
        ("lr,loss\n0.1,1\x00\n", r"Not a readable CSV file|not numbers"),
    ],
)
def test_malformed_csv_is_a_result_file_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=match):
        RangeTestResult.load(path)
