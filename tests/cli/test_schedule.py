"""`lrfinder schedule`: from flags or a saved range test; one-line errors, non-zero exit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrfinder
from lrfinder.cli import main

pytest.importorskip("matplotlib")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    x = np.linspace(-5, 0, 120)
    loss = np.where(x < -3, 2.0, 2.0 - 0.75 * (x + 3))
    loss = np.where(x > -1, 0.5 + 3 * (x + 1), loss)
    path = tmp_path / "lr_find.json"
    lrfinder.RangeTestResult(lrs=10.0**x, losses=loss).save(path)
    return path


@pytest.mark.parametrize(
    "flags",
    [
        ["one_cycle", "--max-lr", "0.1", "--three-phase", "--anneal", "linear"],
        ["triangular2", "--base-lr", "0.001", "--max-lr", "0.01", "--step-size", "20"],
        ["step", "--lr", "0.1", "--step-size", "30"],
        ["multistep", "--lr", "0.1", "--milestones", "30,60"],
        ["exponential", "--lr", "0.1", "--gamma", "0.99"],
        ["cosine", "--lr", "0.1", "--warmup", "10"],
        ["one_cycle", "--lr", "0.1", "--warmup", "10"],
        ["warm_restarts", "--lr", "0.1", "--t0", "20", "--t-mult", "2"],
        ["constant", "--lr", "0.1", "--log"],
    ],
)
def test_writes_the_plot(flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "s.png"
    assert main(["schedule", *flags, "--steps", "100", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert f"Wrote {out}" in capsys.readouterr().out


def test_from_a_saved_range_test(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "oc.png"
    assert (
        main(["schedule", "one_cycle", "--from", str(saved), "--steps", "500", "-o", str(out)]) == 0
    )
    text = capsys.readouterr().out
    want = lrfinder.schedule_from(
        lrfinder.RangeTestResult.load(saved), "one_cycle", total_steps=500
    )
    assert str(want) in text and out.exists()
    assert (
        main(
            [
                "schedule",
                "exp_range",
                "--from",
                str(saved),
                "--steps",
                "500",
                "--gamma",
                "0.999",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "base_lr = " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["one_cycle"], "`lrfinder schedule one_cycle` needs --lr (or --from RESULT"),
        (["step", "--lr", "0.1"], "`lrfinder schedule step` needs --step-size"),
        (["triangular", "--max-lr", "0.1"], "needs --base-lr"),
        (["multistep", "--lr", "0.1", "--milestones", "3,x"], "--milestones must be integers"),
        (["one_cycle", "--max-lr", "0.1", "--pct-start", "1.5"], "Received: pct_start=1.5"),
        (["cyclic_bogus"], None),
        (["step", "--from", "FILE", "--lr", "0.1"], "--from builds only one_cycle"),
        (["constant", "--from", "missing.json"], "missing.json"),
        (["constant", "--lr", "0.1", "--warmup", "100"], "--warmup must be 0 or more and below"),
    ],
)
def test_bad_input_fails_with_one_line(
    flags: list[str],
    message: str | None,
    saved: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    flags = [str(saved) if f == "FILE" else f for f in flags]
    args = ["schedule", *flags, "--steps", "100", "-o", str(tmp_path / "x.png")]
    if message is None:  # argparse's own usage error
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        return
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrfinder: error: ")
    assert message in err
    assert not (tmp_path / "x.png").exists()


def test_steps_below_one_blame_steps(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.png"
    assert main(["schedule", "constant", "--lr", "0.1", "--steps", "0", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert (
        err == "lrfinder: error: --steps must be at least 1: the training steps to plot. "
        "Received: --steps 0\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["cosine", "--lr", "0.1", "--max-lr", "0.5"],
            "`lrfinder schedule cosine` does not read --max-lr; it reads --eta-min, --lr, "
            "--t-max. Received: --max-lr 0.5",
        ),
        (["triangular", "--base-lr", "0.1", "--max-lr", "1", "--gamma", "0.9"], "--gamma 0.9"),
        (["constant", "--lr", "0.1", "--three-phase"], "Received: --three-phase"),
        (["constant", "--lr", "0.1", "--method", "valley"], "does not read --method"),
        (["step", "--lr", "0.1", "--step-size", "5", "--lr-col", "x"], "does not read --lr-col"),
        (
            ["one_cycle", "--from", "FILE", "--max-lr", "0.1"],
            "`lrfinder schedule one_cycle --from RESULT` does not read --max-lr (the curve sets "
            "the rates)",
        ),
        (["one_cycle", "--max-lr", "0.1", "--lr", "0.2"], "takes its peak once"),
    ],
)
def test_flags_a_schedule_does_not_read_are_refused(
    flags: list[str], message: str, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    flags = [str(saved) if f == "FILE" else f for f in flags]
    out = tmp_path / "x.png"
    assert main(["schedule", *flags, "--steps", "100", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrfinder: error: ") and message in err
    assert not out.exists()
