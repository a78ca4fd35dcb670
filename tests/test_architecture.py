"""The layers of ARCHITECTURE.md hold: the import contracts catch a violation, and the diagram
there matches the package as it is.

Regenerate the diagram after adding a module or a layer: ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "lrfinder"
DOC = ROOT / "ARCHITECTURE.md"
BEGIN, END = "<!-- layers: begin -->", "<!-- layers: end -->"


def layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, top (may import everything) to bottom."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


def modules(dotted: str) -> list[str]:
    """The modules of one layer's package (or the module itself), as paths under lrfinder/."""
    path = PACKAGE.joinpath(*dotted.split(".")[1:])
    if path.is_dir():
        return sorted(str(p.relative_to(PACKAGE)) for p in path.glob("*.py"))
    return [str(path.with_suffix(".py").relative_to(PACKAGE))]


def diagram() -> str:
    lines = ["```text"]
    for i, layer in enumerate(layers()):
        if i:
            lines.append("   |  imports only from below")
            lines.append("   v")
        for name in layer:
            lines.append(f"{name:<22} {' '.join(modules(name))}")
    lines.append("```")
    return "\n".join(lines)


def test_every_module_is_in_a_layer() -> None:
    placed = {m for layer in layers() for name in layer for m in modules(name)}
    everything = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    # The package's own __init__ (the public API) and __main__ sit above every layer.
    assert everything - placed == {"__init__.py", "__main__.py"}


def test_the_diagram_in_architecture_md_is_current() -> None:
    text = DOC.read_text()
    current = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert current == diagram(), "Run `python tests/test_architecture.py` to regenerate it."


def lint_imports(tmp_path: Path, bad_file: str, bad_line: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over a copy of the package with one import added to one module."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "lrfinder", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "lrfinder" / bad_file
    target.write_text(target.read_text() + f"\n\ndef _bad() -> None:\n    {bad_line}\n")
    env = {"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


@pytest.fixture(scope="module", autouse=True)
def _importlinter() -> None:
    pytest.importorskip("importlinter")


def test_the_contracts_hold_today(tmp_path: Path) -> None:
    out = lint_imports(tmp_path, "_core/_sweep.py", "pass")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    # The core reaching up into a framework adapter, even lazily inside a function.
    out = lint_imports(tmp_path, "_core/_sweep.py", "from ..torch import find_lr  # noqa")
    assert out.returncode == 1
    assert "Layers: data flows down, nothing below imports above BROKEN" in out.stdout
    assert "lrfinder._core._sweep -> lrfinder.torch" in out.stdout


def test_a_framework_may_not_import_another(tmp_path: Path) -> None:
    out = lint_imports(tmp_path, "keras/_find.py", "from ..torch import find_lr  # noqa")
    assert out.returncode == 1
    assert "Layers: data flows down, nothing below imports above BROKEN" in out.stdout


def test_a_cycle_inside_one_layer_is_caught(tmp_path: Path) -> None:
    # _result imports _smoothing; the reverse closes a cycle that the layers contract alone,
    # which only orders whole packages, would not see.
    out = lint_imports(tmp_path, "_core/_smoothing.py", "from . import _result  # noqa")
    assert out.returncode == 1
    assert "No import cycles" in out.stdout and "BROKEN" in out.stdout


if __name__ == "__main__":
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + diagram() + "\n" + text[end:])
    print(f"wrote the diagram into {DOC}")
