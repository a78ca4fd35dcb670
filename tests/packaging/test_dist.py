"""The sdist and the wheel as an index would ship them, installed the way a user would.

These build and install, so they run in the dist pass of ``make test`` (LRFINDER_DIST=1), a
pass of their own: ``LRFINDER_DIST=1 .venv/bin/python -m pytest -q tests/packaging/test_dist.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from _markdown import ROOT

if os.environ.get("LRFINDER_DIST") != "1":
    pytest.skip(
        "the built sdist and wheel are checked in the dist pass (LRFINDER_DIST=1)",
        allow_module_level=True,
    )

import lrfinder

VERSION = lrfinder.__version__
# bytes: 2.2 MB before the benchmarks' cached runs were left out; about 0.72 MB now, half of it the
# four PNGs of the docs (which do not compress), the rest sources, tests, docs and notebooks.
SDIST_LIMIT = 900_000
# --no-compile: no .pyc for the thousands of torch files, which is most of an install here.
PIP = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]


def run(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    if check and done.returncode:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from the sdist (python -m build's default), so a file the
    sdist leaves out breaks the wheel too."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, dist: dict[str, Path]) -> Path:
    """A fresh virtual environment with the wheel and its one dependency, numpy."""
    where = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", where)
    run(where / "bin" / "python", *PIP, dist["wheel"])
    return where


def test_sdist_holds_the_sources_and_no_benchmark_caches(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as tar:
        prefix = f"lrfinder-{VERSION}/"
        names = {n.removeprefix(prefix) for n in tar.getnames()}
    for needed in [
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "mkdocs.yml",
        "constraints.txt",
        "src/lrfinder/__init__.py",
        "src/lrfinder/py.typed",
        "tests/conftest.py",
        "docs/index.md",
        "benchmarks/quality/run.py",
        "BENCHMARKS.md",
    ]:
        assert needed in names
    assert not [n for n in names if "/results" in n or n.startswith((".ci", "site/", ".venv"))]
    assert dist["sdist"].stat().st_size < SDIST_LIMIT


def test_wheel_ships_the_license_and_the_metadata(dist: dict[str, Path]) -> None:
    assert dist["wheel"].name == f"lrfinder-{VERSION}-py3-none-any.whl"
    info = f"lrfinder-{VERSION}.dist-info"
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
        metadata = whl.read(f"{info}/METADATA").decode()
        license_text = whl.read(f"{info}/licenses/LICENSE").decode()
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "lrfinder/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/"))]
    for line in [
        f"Version: {VERSION}",
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Project-URL: Documentation, https://lrfinder.github.io/lrfinder/",
        "Project-URL: Issues, https://github.com/lrfinder/lrfinder/issues",
        "Classifier: Typing :: Typed",
        "Provides-Extra: trainers",
        "Description-Content-Type: text/markdown",
    ]:
        assert f"\n{line}\n" in metadata
    # The long description is the README, whose links are absolute (tests/docs/test_readme.py).
    assert (
        "](https://raw.githubusercontent.com/lrfinder/lrfinder/main/docs/lr_find.png)" in metadata
    )


def test_wheel_in_a_fresh_venv_needs_numpy_only(venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    listed = run(
        python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.split()}
    assert installed - {"pip", "setuptools"} == {"lrfinder", "numpy"}
    code = (
        "import sys, lrfinder; "
        "assert not {'torch', 'keras', 'jax', 'matplotlib'} & set(sys.modules); "
        "print(lrfinder.__version__, lrfinder.__file__)"
    )
    version, path = run(python, "-c", code, cwd=tmp_path).stdout.split()
    assert version == VERSION
    assert path.startswith(str(venv))  # the wheel's copy, not the checkout's
    helped = run(venv / "bin" / "lrfinder", "--help", cwd=tmp_path)
    assert helped.stdout.startswith("usage: lrfinder")
    assert "demo" in helped.stdout and "suggest" in helped.stdout


def test_wheel_with_torch_and_plot_runs_the_demo(
    venv: Path, dist: dict[str, Path], tmp_path: Path
) -> None:
    python = venv / "bin" / "python"
    constraints = ROOT / "constraints.txt"
    run(python, *PIP, "-c", constraints, f"lrfinder[torch,plot] @ {dist['wheel'].as_uri()}")
    torch_version = run(python, "-c", "import torch; print(torch.__version__)").stdout.strip()
    assert torch_version.startswith("2.13.0")  # constraints.txt's CPU build, not a new download
    # The demo's data comes with scikit-learn, which [torch,plot] does not hold: one line, the fix.
    missing = run(venv / "bin" / "lrfinder", "demo", "--no-progress", cwd=tmp_path, check=False)
    assert missing.returncode != 0
    assert "pip install 'lrfinder[demo]'" in missing.stderr
    assert "Traceback" not in missing.stderr
    run(python, *PIP, "-c", constraints, f"lrfinder[demo] @ {dist['wheel'].as_uri()}")
    demo = run(venv / "bin" / "lrfinder", "demo", "--no-progress", cwd=tmp_path)
    assert "Wrote lr_find.json and lr_find.png" in demo.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr_find.json", "lr_find.png"]
    result = lrfinder.RangeTestResult.load(tmp_path / "lr_find.json")
    assert result.settings["framework"] == "torch"
    assert result.lrs[0] <= result.suggestion.lr <= result.lrs[-1]
    assert (tmp_path / "lr_find.png").read_bytes().startswith(b"\x89PNG")
