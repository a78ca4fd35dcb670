"""A corpus of malformed files through `RangeTestResult.load` and every command that reads one:
each is one line on stderr, no traceback, and exit code 1 (see `lrfinder --help`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _curves import sigmoid_curve
from lrfinder import RangeTestResult, ResultFileError
from lrfinder.cli import EXIT_ERROR, EXIT_NO_SUGGESTION, main

HEAD = {"format": "lrfinder.RangeTestResult", "version": 1}


def result_json(**fields: object) -> str:
    return json.dumps({**HEAD, "lrs": [0.1, 0.2], "losses": [1, 2], **fields})


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def corpus() -> dict[str, bytes]:
    good = json.dumps(sigmoid_curve().to_dict())
    lrs_losses = '"lrs": [0.1, 0.2], "losses": [1, 2]'
    files = {
        "empty.json": "",
        "truncated.json": good[: len(good) // 2],
        "not_an_object.json": "[1, 2, 3]",
        "lrs_a_string.json": json.dumps({**HEAD, "lrs": "0.1", "losses": [1]}),
        "losses_a_dict.json": json.dumps({**HEAD, "lrs": [0.1], "losses": {"a": 1}}),
        "version_a_string.json": json.dumps({**HEAD, "version": "1", "lrs": [0.1], "losses": [1]}),
        "timings_string.json": result_json(timings={"sweep_s": "fast"}),
        "timings_null.json": result_json(timings={"sweep_s": None}),
        "timings_dict.json": result_json(timings={"sweep_s": {}}),
        "smooth_beta_string.json": result_json(settings={"smooth_beta": "x"}),
        "smooth_beta_list.json": result_json(settings={"smooth_beta": [0.5]}),
        "int_400_digits.json": "{" + f'"format": "{HEAD["format"]}", "version": 1, '
        f'"lrs": [0.1, 0.2], "losses": [1, {"9" * 400}]' + "}",
        "int_5000_digits.json": "{" + f'"format": "{HEAD["format"]}", "version": 1, '
        f'"lrs": [0.1, 0.2], "losses": [1, {"9" * 5000}]' + "}",
        "float_1e999.json": "{" + f'"format": "{HEAD["format"]}", "version": 1, '
        '"lrs": [0.1, 1e999], "losses": [1, 2]}',
        "stop_reason_huge.json": "{" + f'"format": "{HEAD["format"]}", "version": 1, '
        f'{lrs_losses}, "stop_reason": {"9" * 4000}' + "}",
        "settings_900_deep.json": "{" + f'"format": "{HEAD["format"]}", "version": 1, '
        f'{lrs_losses}, "settings": {nested(900)}' + "}",
        "json_100000_deep.json": "[" * 100_000,
        "zero_steps.json": json.dumps({**HEAD, "lrs": [], "losses": [], "group_lrs": []}),
        "nan_group_lrs.json": result_json(group_lrs=[["nan"], [0.2]]),
        "bom_truncated.json": "\ufeff" + good[:100],
        "header_only.csv": "lr,loss\n",
        "huge_field.csv": "lr,loss\n0.1," + "1" * 200_000 + "\n",
        "words.csv": "lr,loss\n0.1,abc\n",
        "no_lr_column.csv": "rate,loss\n0.1,1\n",
        "nul_byte.csv": "lr,loss\n0.1,1\x00\n",
    }
    out = {name: text.encode("utf-8") for name, text in files.items()}
    out["binary_garbage.json"] = bytes(range(256)) * 4
    out["binary_garbage.csv"] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
    out["utf16.json"] = good.encode("utf-16")
    return out


CORPUS = corpus()
COMMANDS = {
    "suggest": ["suggest", "{}"],
    "suggest --all": ["suggest", "{}", "--all"],
    "plot": ["plot", "{}", "-o", "{out}"],
    "schedule": ["schedule", "one_cycle", "--steps", "100", "--from", "{}", "-o", "{out}"],
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_load_raises_a_result_file_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(CORPUS[name])
    with pytest.raises(ResultFileError):
        RangeTestResult.load(path)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_command_says_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, command: str
) -> None:
    path = tmp_path / name
    path.write_bytes(CORPUS[name])
    argv = [a.format(path, out=tmp_path / "out.png") for a in COMMANDS[command]]
    assert main(argv) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.err.startswith("lrfinder: error: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "out.png").exists()


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrfinder", *argv], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs /dev/zero and mkfifo")
def test_devices_and_fifos_through_the_real_entry_point(tmp_path: Path) -> None:
    fifo = tmp_path / "curve.json"
    os.mkfifo(fifo)
    for source in ("/dev/zero", str(fifo)):
        done = run_cli("suggest", source)  # the timeout fails the test if it blocks or reads on
        assert done.returncode == EXIT_ERROR, done.stderr
        assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr
    bad = tmp_path / "deep.json"
    bad.write_bytes(CORPUS["settings_900_deep.json"])
    done = run_cli("suggest", str(bad), "--all")
    assert done.returncode == EXIT_ERROR and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_extreme_finite_losses_give_a_rate_not_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = RangeTestResult(lrs=np.logspace(-5, 0, 40), losses=[1.7e308, -1.7e308] * 20).save(
        tmp_path / "extreme.json"
    )
    code = main(["suggest", str(path), "--json"])
    out = capsys.readouterr().out
    assert code == 0 or code == EXIT_NO_SUGGESTION
    if code == 0:
        assert np.isfinite(json.loads(out)["lr"])


def test_help_documents_the_exit_codes() -> None:
    done = run_cli("--help")
    for line in ("exit codes:", "1    error", "3    no suggestion", "4    internal error"):
        assert line in done.stdout


def test_an_unexpected_exception_is_one_line_with_code_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(path: object, **columns: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(RangeTestResult, "load", staticmethod(boom))
    assert main(["suggest", str(tmp_path / "x.json")]) == 4
    err = capsys.readouterr().err
    assert err == (
        "lrfinder: internal error: RuntimeError: boom second line (a bug in lrfinder; please "
        "report it with the command and the file)\n"
    )
