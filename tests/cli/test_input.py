"""What the commands read (lrfinder/cli/_input.py): any table, named columns, two TensorBoard
exports, their warnings as one line; every misuse one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lrfinder
from lrfinder.cli import EXIT_ERROR, EXIT_USAGE, main

LRS = np.logspace(-6, 0, 80)
LOSSES = 1 / (1 + np.exp(3 * (np.log10(LRS) + 3))) + np.where(LRS > 0.05, LRS * 30, 0)
EXPECTED = lrfinder.suggest((LRS, LOSSES)).lr


def suggested(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[float, str]:
    assert main(["suggest", *argv, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out)["lr"], captured.err


def test_a_tab_separated_file_with_named_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.tsv"
    rows = ["iteration\tRate\tObjective"]
    rows += [
        f"{i}\t{float(lr)!r}\t{float(v)!r}"
        for i, (lr, v) in enumerate(zip(LRS, LOSSES, strict=True))
    ]
    path.write_text("\n".join(rows) + "\n")
    lr, _ = suggested(capsys, str(path), "--lr-col", "Rate", "--loss-col", "Objective")
    assert lr == EXPECTED
    assert main(["suggest", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lr-col / --loss-col" in err


def test_two_tensorboard_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, values in (("lr", LRS), ("loss", LOSSES)):
        rows = ["Wall time,Step,Value"]
        rows += [f"{1.7e9 + i},{i},{float(v)!r}" for i, v in enumerate(values)]
        (tmp_path / f"{name}.csv").write_text("\n".join(rows) + "\n")
    lr, _ = suggested(
        capsys, "--lr", str(tmp_path / "lr.csv"), "--loss", str(tmp_path / "loss.csv")
    )
    assert lr == EXPECTED


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "{d}/lr.csv"], "--lr and --loss go together: --loss FILE is missing"),
        (["{d}/x.csv", "--lr", "{d}/a", "--loss", "{d}/b"], "either RESULT or --lr FILE"),
        ([], "Name the curve to read: a RESULT file, or --lr FILE --loss FILE"),
        (
            ["--lr", "{d}/a", "--loss", "{d}/b", "--lr-col", "x"],
            "--lr-col / --loss-col name columns of one file",
        ),
    ],
)
def test_misused_input_flags_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["suggest", *(a.format(d=tmp_path) for a in argv)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_reversed_file_is_read_with_a_one_line_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "reversed.csv"
    rows = ["lr;loss"] + [
        f"{float(a)!r};{float(b)!r}" for a, b in zip(LRS[::-1], LOSSES[::-1], strict=True)
    ]
    path.write_text("\ufeff" + "\n".join(rows) + "\n")  # and a BOM, as Excel writes
    lr, err = suggested(capsys, str(path))
    assert lr == EXPECTED
    assert err.startswith("lrfinder: warning: The learning rates were not increasing")
    assert err.count("\n") == 1


def test_plot_reads_the_same_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "metrics.csv"
    rows = ["step,lr-AdamW,train_loss"]
    for i, (lr, v) in enumerate(zip(LRS, LOSSES, strict=True)):
        rows += [f"{i},{float(lr)!r},", f"{i},,{float(v)!r}"]
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "plot.png"
    assert main(["plot", str(path), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert (
        main(["schedule", "one_cycle", "--steps", "50", "--from", str(path), "-o", str(out)]) == 0
    )
    want = lrfinder.schedule_from((LRS, LOSSES), "one_cycle", total_steps=50)
    assert str(want) in capsys.readouterr().out
