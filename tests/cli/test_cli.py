import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lrfinder
from _curves import sigmoid_curve
from lrfinder.cli import main


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return sigmoid_curve().save(tmp_path / "curve.json")


def test_suggest_default_and_json(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suggest", str(saved)]) == 0
    out = capsys.readouterr().out
    expected = lrfinder.suggest(sigmoid_curve())
    assert out.startswith(f"{expected.lr:.6g}") and lrfinder.DEFAULT_METHOD in out
    assert main(["suggest", str(saved), "--method", "steepest", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lr"] == lrfinder.suggest(sigmoid_curve(), "steepest").lr
    assert data["method"] == "steepest" and data["low"] <= data["lr"] <= data["high"]


def test_suggest_all_on_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sigmoid_curve().save(tmp_path / "curve.csv")
    assert main(["suggest", str(path), "--all"]) == 0
    out = capsys.readouterr().out
    for method in lrfinder.methods():
        assert method in out


def test_plot_writes_an_image(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "plot.png"
    assert main(["plot", str(saved), "-o", str(out), "--method", "valley"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (None, 1, "lrfinder: error: Cannot read"),
        ("garbage", 1, "lrfinder: error: "),
        (
            "lr,loss\n0.1,1\n0.2,1\n0.3,1\n0.4,1\n0.5,1\n0.6,1\n",
            3,
            "lrfinder: no suggestion: The curve is flat",
        ),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, code: int, message: str
) -> None:
    path = tmp_path / ("x.csv" if content and content.startswith("lr") else "x.json")
    if content is not None:
        path.write_text(content)
    assert main(["suggest", str(path)]) == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_and_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lrfinder", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout and "suggest" in out.stdout and "plot" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "lrfinder", "suggest", "x.json", "--method", "nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_tune_races_and_writes_the_race_and_its_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    race, race_plot = tmp_path / "race.json", tmp_path / "race.png"
    argv = ["demo", "--no-progress", "--steps", "60", "--tune", "--tune-steps", "40"]
    argv += ["--plot", str(tmp_path / "demo.png"), "--output", str(tmp_path / "demo.json")]
    assert main([*argv, "--tune-output", str(race), "--tune-plot", str(race_plot)]) == 0
    out = capsys.readouterr().out
    tuned = lrfinder.TuneResult.load(race)
    assert f"Race over a 40-step training: {tuned}" in out
    assert f"Cost: {tuned.trainings:.2f} trainings ({tuned.steps_spent} steps" in out
    assert tuned.budget_steps == 40 and tuned.lr in tuned.rates
    # One range test: the one saved and shown is the one the race read (and counted).
    shown = lrfinder.RangeTestResult.load(tmp_path / "demo.json")
    assert tuned.range_test is not None
    assert np.array_equal(tuned.range_test.lrs, shown.lrs)
    assert np.array_equal(tuned.range_test.losses, shown.losses)
    assert tuned.steps_spent == tuned.trial_steps + shown.steps
    # A constant rate: each round went on from the one before, and the summary says so.
    assert tuned.rounds[-1].resumed and "2 rates x 40 steps (going on from the round before)" in out
    assert race_plot.read_bytes()[:4] == b"\x89PNG"


def test_demo_writes_plot_and_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    plot, result = tmp_path / "demo.png", tmp_path / "demo.json"
    assert (
        main(
            ["demo", "--no-progress", "--steps", "60", "--plot", str(plot), "--output", str(result)]
        )
        == 0
    )
    out = capsys.readouterr().out
    for method in lrfinder.methods():
        assert method in out
    loaded = lrfinder.RangeTestResult.load(result)
    assert loaded.settings["framework"] == "torch" and 2 <= loaded.steps <= 60
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert loaded.lrs[0] == loaded.settings["start_lr"]


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (["plot", "{saved}"], "lr_find.png"),
        (["schedule", "one_cycle", "--steps", "50", "--from", "{saved}"], "schedule.png"),
    ],
)
def test_output_to_a_directory_writes_inside_it(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list, default: str
) -> None:
    pytest.importorskip("matplotlib")
    folder = tmp_path / "plots"
    folder.mkdir()
    assert main([*(a.format(saved=saved) for a in command), "-o", str(folder)]) == 0
    assert (folder / default).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "plots.png").exists()
    assert f"Wrote {folder / default}" in capsys.readouterr().out
    assert main([*(a.format(saved=saved) for a in command), "-o", str(tmp_path / "bare")]) == 0
    assert (tmp_path / "bare.png").exists() and f"Wrote {tmp_path / 'bare.png'}" in (
        capsys.readouterr().out
    )
    # A format matplotlib cannot write is a usage error (2), found before the curve is read.
    assert main([*(a.format(saved=saved) for a in command), "-o", str(tmp_path / "x.nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrfinder: error: -o ") and err.count("\n") == 1
    assert "matplotlib cannot write .nope images; end the name with one of" in err


def test_plot_draws_several_results_on_the_same_axes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    from lrfinder._plotting import _result

    paths = []
    for name, centre in (("sgd", -3.0), ("adam", -2.0)):
        paths.append(sigmoid_curve(centre=centre).save(tmp_path / f"{name}.json"))
    drawn: list[tuple[int, object]] = []
    real = _result.plot_result

    def spy(result: object, **options: object) -> object:
        drawn.append((len(result) if isinstance(result, list) else 1, options["label"]))
        return real(result, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(_result, "plot_result", spy)
    out = tmp_path / "both.png"
    assert main(["plot", *map(str, paths), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert drawn == [(2, ["sgd", "adam"])]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"lrfinder {version('lrfinder')}\n"


def test_suggest_all_reads_for_schedule_and_json(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suggest", str(saved), "--all", "--json", "--for-schedule", "one_cycle"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["for_schedule"] == "one_cycle" and data["default"] == lrfinder.DEFAULT_METHOD
    assert set(data["methods"]) == set(lrfinder.methods())
    peak = lrfinder.suggest(sigmoid_curve(), for_schedule="one_cycle")
    assert data["methods"]["fall"]["lr"] == peak.lr != lrfinder.suggest(sigmoid_curve()).lr
    assert data["methods"]["valley"]["lr"] == lrfinder.suggest(sigmoid_curve(), "valley").lr
    # the table too
    assert main(["suggest", str(saved), "--all", "--for-schedule", "onecycle"]) == 0
    table = capsys.readouterr().out
    assert f"{peak.lr:.3g}" in table and "(one rate for every schedule)" in table
    assert main(["suggest", str(saved), "--all", "--method", "valley"]) == 2
    assert "--all prints every method; --method picks one" in capsys.readouterr().err


def test_a_closed_pipe_exits_quietly(saved: Path) -> None:
    import os

    read, write = os.pipe()
    os.close(read)  # `| head` that has already exited: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lrfinder", "suggest", str(saved), "--all"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141


def test_demo_with_too_few_steps_leaks_no_warning(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [
            *(sys.executable, "-W", "always", "-m", "lrfinder", "demo", "--steps", "3"),
            *("--no-progress", "--output", str(tmp_path / "r.json")),
            *("--plot", str(tmp_path / "p.png")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Too few points: the curve has 3 step(s), 5 needed. Raise `num_steps`." in done.stdout
