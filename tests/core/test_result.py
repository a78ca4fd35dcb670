import dataclasses
import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import lrfinder._core._result as result_module
from lrfinder import LRFinderError, LRFinderWarning, RangeTest, RangeTestResult, ResultFileError


def make_result() -> RangeTestResult:
    rt = RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=20, group_ratios=(1.0, 0.5))
    for loss in [2.0, 1.8, 1.5, 1.2, -0.5, math.nan]:
        rt.record(loss)
    return rt.result(settings={"framework": "test", "base_lrs": [0.1, 0.05]}, timings={"x_s": 0.5})


def test_result_is_frozen_and_read_only() -> None:
    r = make_result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.stop_reason = "completed"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        r.losses[0] = 1.0
    assert r.steps == 6 and r.stop_reason == "nonfinite"
    assert r.group_lrs.shape == (6, 2)


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    r = make_result()
    path = r.save(tmp_path / f"curve{suffix}")
    back = RangeTestResult.load(path)
    np.testing.assert_array_equal(back.lrs, r.lrs)
    np.testing.assert_array_equal(back.losses, r.losses)  # NaN survives
    np.testing.assert_array_equal(back.smoothed_losses, r.smoothed_losses)
    np.testing.assert_array_equal(back.group_lrs, r.group_lrs)
    # CSV too: the `# lrfinder: {...}` line keeps stop_reason, settings and timings.
    assert back == r
    assert back.settings["framework"] == "test" and back.stop_reason == "nonfinite"
    if suffix == ".json":
        data = json.loads(path.read_text())
        assert data["version"] == 1 and data["losses"][-1] == "nan"


def test_csv_from_another_tool(tmp_path: Path) -> None:
    path = tmp_path / "logged.csv"
    path.write_text("Learning_Rate,loss,epoch\n0.001,2.0,0\n0.01,1.0,0\n0.1,5.0,0\n\n")
    r = RangeTestResult.load(path)
    assert r.lrs.tolist() == [0.001, 0.01, 0.1]
    assert r.smoothed_losses[0] == 2.0  # derived, debiased: starts at the first loss


def test_derived_smoothing_is_computed_on_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted(values: np.ndarray, beta: float) -> np.ndarray:
        calls.append(beta)
        return result_module.ema(values, beta)

    monkeypatch.setattr(result_module, "_causal_smoothing", lambda v, b: counted(v, b))
    losses = [2.0, 1.8, 1.5, 1.2, 3.0]
    r = RangeTestResult(np.logspace(-4, 0, 5), losses, settings={"smooth_beta": 0.5})
    assert calls == []  # building a result derives nothing
    np.testing.assert_allclose(r.smoothed_losses, result_module.ema(np.array(losses), 0.5))
    assert r.smoothed_losses is r.smoothed_losses and calls == [0.5]  # once, then kept
    given = RangeTestResult([0.1, 0.2], [1.0, 2.0], smoothed_losses=[5.0, 6.0])
    assert given.smoothed_losses.tolist() == [5.0, 6.0] and calls == [0.5]


def test_a_bad_smoothing_setting_is_refused_at_once() -> None:
    with pytest.raises(LRFinderError, match=r"settings\['smooth_beta'\]"):
        RangeTestResult([0.1, 0.2], [1.0, 2.0], settings={"smooth_beta": 1.5})


@pytest.mark.parametrize("read_first", [True, False])
def test_copies_and_other_processes(read_first: bool) -> None:
    import copy

    r = make_result()
    imported = RangeTestResult(r.lrs, r.losses, settings={"smooth_beta": 0.9})
    if read_first:
        assert imported.smoothed_losses.size == r.steps
    for original in (r, imported):
        for copied in (copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
            assert copied == original and copied is not original
            np.testing.assert_array_equal(copied.smoothed_losses, original.smoothed_losses)
            assert not copied.losses.flags.writeable


def test_load_never_unpickles(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "result.json"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ResultFileError):
        RangeTestResult.load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json at all", r"is not valid JSON"),
        ("[1, 2]", r"A result must be a JSON object. Received a list"),
        (
            '{"format": "other"}',
            r"Not an lrfinder result: `format` must be 'lrfinder.RangeTestResult'",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 99, "lrs": [], "losses": []}',
            r"written by a newer lrfinder \(format version 99",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": "1"}',
            r"`version` must be a positive integer",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1}',
            r"A result needs the fields lrs, losses",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [0.1], "losses": ["__import__"]}',
            r"`losses` must hold numbers only. Received: '__import__'",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [0.1], "losses": [1, 2]}',
            r"Invalid result: `lrs` and `losses` must have the same length",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [-0.1], "losses": [1]}',
            r"Every learning rate must be finite and above 0",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [0.1], "losses": [1], "settings": 3}',
            r"`settings` must be a JSON object",
        ),
        (
            '{"format": "lrfinder.RangeTestResult", "version": 1, "lrs": [0.1], "losses": [1], "stop_reason": "boom"}',
            r"`stop_reason` must be one of completed",
        ),
        ("[" * 100000, r"is not valid JSON"),
    ],
)
def test_bad_json_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=match):
        RangeTestResult.load(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", r"The CSV file is empty"),
        (
            "rate,value\n0.1,1\n",
            r"needs the columns `lr` and `loss`. Received columns: \['rate', 'value'\]",
        ),
        ("lr,loss\n0.1,abc\n", r"a row that is not numbers"),
        ("lr,loss\n0.1\n", r"a row that is not numbers"),
        ("lr,loss\n0,1\n", r"Invalid CSV curve: Every learning rate must be finite and above 0"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=match):
        RangeTestResult.load(path)


def test_unreadable_and_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResultFileError, match=r"Cannot read .*missing.json"):
        RangeTestResult.load(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ResultFileError, match=r"is not a text file"):
        RangeTestResult.load(binary)
    big = make_result().save(tmp_path / "big.json")
    monkeypatch.setattr(result_module, "MAX_FILE_BYTES", 10)
    with pytest.raises(ResultFileError, match=r"larger than any range test result"):
        RangeTestResult.load(big)


def test_constructor_checks() -> None:
    with pytest.raises(LRFinderError, match=r"`smoothed_losses` must have one value per step"):
        RangeTestResult(lrs=[0.1, 0.2], losses=[1, 2], smoothed_losses=[1])  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"`group_lrs` must have one row per step"):
        RangeTestResult(lrs=[0.1, 0.2], losses=[1, 2], group_lrs=[[0.1]])  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"`settings` may hold only numbers.*Received a object"):
        RangeTestResult(lrs=[0.1], losses=[1], settings={"x": object()})  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"`losses` must hold numbers only"):
        RangeTestResult(lrs=[0.1], losses=["x"])  # type: ignore[arg-type]


# -- rates out of order, repeated, not positive ------------------------------------------------


def test_a_reversed_curve_is_sorted_with_a_warning() -> None:
    lrs, losses = np.logspace(-5, 0, 30), np.linspace(3, 1, 30)
    with pytest.warns(LRFinderWarning, match=r"not increasing \(in decreasing order\).*sorted"):
        r = RangeTestResult(lrs=lrs[::-1], losses=losses[::-1], val_losses=losses[::-1] + 1)
    expected = RangeTestResult(lrs=lrs, losses=losses, val_losses=losses + 1)
    assert r == expected  # smoothing follows the sorted rows
    assert not r.lrs.flags.writeable and not r.group_lrs.flags.writeable


def test_shuffled_rows_are_sorted_and_every_column_moves_with_its_rate() -> None:
    order = np.random.default_rng(0).permutation(20)
    lrs = np.logspace(-4, -1, 20)
    groups = np.column_stack([lrs, lrs / 10])
    smoothed = np.arange(20.0)
    with pytest.warns(LRFinderWarning, match=r"out of order at \d+ of 19 steps"):
        r = RangeTestResult(
            lrs=lrs[order],
            losses=-lrs[order],
            smoothed_losses=smoothed[order],
            group_lrs=groups[order],
        )
    np.testing.assert_array_equal(r.lrs, lrs)
    np.testing.assert_array_equal(r.losses, -lrs)
    np.testing.assert_array_equal(r.smoothed_losses, smoothed)
    np.testing.assert_array_equal(r.group_lrs, groups)


def test_the_reading_of_a_reversed_curve_is_the_reading_of_the_curve() -> None:
    import lrfinder

    lrs = np.logspace(-6, 0, 80)
    losses = 1 / (1 + np.exp(3 * (np.log10(lrs) + 3))) + np.where(lrs > 0.05, lrs * 30, 0)
    with pytest.warns(LRFinderWarning, match=r"sorted by rate"):
        reversed_ = RangeTestResult(lrs=lrs[::-1], losses=losses[::-1])
    for method in ("fall", "valley", "sma_derivative"):
        assert (
            reversed_.suggest(method).lr
            == RangeTestResult(lrs=lrs, losses=losses).suggest(method).lr
        )
    assert lrfinder.suggest(reversed_).lr == lrfinder.suggest((lrs, losses)).lr


@pytest.mark.parametrize(
    ("lrs", "match"),
    [
        ([0.1, 0.2, 0.2, 0.3], r"must appear once.*lr=0.2 at steps 1, 2 \(1 repeated in all\)"),
        ([0.3, 0.1, 0.3], r"lr=0.3 at steps 0, 2"),
        ([0.1, 0.0, 0.3], r"finite and above 0. Received: \[0.0\] \(the first at step 1\)"),
        ([0.1, -1.0, math.nan], r"Received: \[-1.0, nan\] \(the first at step 1\)"),
    ],
)
def test_repeated_and_non_positive_rates_are_one_line_errors(lrs: list, match: str) -> None:
    with pytest.raises(LRFinderError, match=match) as exc:
        RangeTestResult(lrs=lrs, losses=[1.0] * len(lrs))
    assert "\n" not in str(exc.value)


def test_a_range_test_lrfinder_records_is_untouched(recwarn: pytest.WarningsRecorder) -> None:
    for mode in ("exp", "linear"):
        rt = RangeTest(start_lr=1e-7, end_lr=10, num_steps=500, mode=mode)
        while not rt.done:
            rt.record(1.0)
        r = rt.result()
        assert np.all(np.diff(r.lrs) > 0)
        np.testing.assert_array_equal(r.lrs, rt.result().lrs)
        assert RangeTestResult.from_csv(r.to_csv()) == r
    assert not recwarn.list


def test_a_sorted_file_warns_through_load(tmp_path: Path) -> None:
    path = tmp_path / "reversed.csv"
    path.write_text("lr,loss\n0.1,5\n0.01,1\n0.001,2\n")
    with pytest.warns(LRFinderWarning, match=r"sorted by rate"):
        assert RangeTestResult.load(path).lrs.tolist() == [0.001, 0.01, 0.1]
    path.write_text("lr,loss\n0.1,5\n0.1,1\n")
    with pytest.raises(
        ResultFileError, match=r"Invalid CSV curve: Every learning rate must appear"
    ):
        RangeTestResult.load(path)


# -- what a CSV keeps ---------------------------------------------------------------------------


def test_the_csv_header_line_keeps_stop_reason_settings_and_timings() -> None:
    r = make_result()
    first = r.to_csv().partition("\n")[0]
    assert first.startswith("# lrfinder: {") and '"stop_reason": "nonfinite"' in first
    back = RangeTestResult.from_csv(r.to_csv())
    assert back.stop_reason == "nonfinite" and dict(back.settings) == dict(r.settings)
    assert dict(back.timings) == {"sweep_s": r.timings["sweep_s"], "x_s": 0.5}
    # without the line (a spreadsheet dropped it) the curve still loads, stop reason unknown
    body = r.to_csv().partition("\n")[2]
    assert RangeTestResult.from_csv(body).stop_reason == "unknown"


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("# lrfinder: {not json", r"`# lrfinder:` line is not valid JSON"),
        ("# lrfinder: [1]", r"must hold a JSON object. Received a list"),
        (
            '# lrfinder: {"format": "lrfinder.RangeTestResult", "version": 7}',
            r"written by a newer lrfinder \(format version 7",
        ),
        (
            '# lrfinder: {"format": "lrfinder.RangeTestResult", "version": 1, "settings": 3}',
            r"`settings` in the `# lrfinder:` line must be a JSON object",
        ),
        (
            '# lrfinder: {"format": "lrfinder.RangeTestResult", "version": 1, "stop_reason": "x"}',
            r"Invalid CSV curve: `stop_reason` must be one of",
        ),
    ],
)
def test_a_bad_header_line_is_a_result_file_error(line: str, match: str) -> None:
    with pytest.raises(ResultFileError, match=match):
        RangeTestResult.from_csv(f"{line}\nlr,loss\n0.1,1\n")


def test_json_results_refuse_column_names(tmp_path: Path) -> None:
    path = make_result().save(tmp_path / "r.json")
    with pytest.raises(ResultFileError, match=r"is an lrfinder JSON result.*--lr-col"):
        RangeTestResult.load(path, lr_col="lr")
