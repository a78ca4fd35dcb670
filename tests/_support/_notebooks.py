"""Execute a notebook in a fresh Jupyter kernel (nbclient + ipykernel), as a user would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def execute(notebook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run every cell of ``notebook`` (an nbformat node) in ``tmp_path``; return it executed.

    A cell that raises fails the test with the cell and its traceback (nbclient's
    ``CellExecutionError``). The kernel's files (connection file, IPython history) go to
    ``tmp_path`` as well, never to the home directory or the checkout.
    """
    pytest.importorskip("ipykernel")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


def read(name: str) -> Any:
    """An example notebook of ``examples/``, checked to be stored without outputs."""
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    stored = [c for c in notebook.cells if c.cell_type == "code" and c.get("outputs")]
    assert not stored, f"{name} is stored with outputs: clear them before committing"
    return notebook


def outputs(notebook: Any, last_line: str) -> list[Any]:
    """The outputs of the code cell whose last line is ``last_line``."""
    cells = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and c.source.strip().splitlines()[-1] == last_line
    ]
    assert len(cells) == 1, f"{len(cells)} cells end with {last_line!r}"
    return list(cells[0].outputs)


def shown(notebook: Any, last_line: str) -> dict[str, Any]:
    """What the cell ending in ``last_line`` displayed as its value: mime type -> data."""
    results = [o for o in outputs(notebook, last_line) if o.output_type == "execute_result"]
    assert len(results) == 1, f"the cell ending in {last_line!r} showed no value"
    return dict(results[0].data)


def stderr(notebook: Any) -> str:
    """Everything the notebook's cells wrote to stderr (progress bars, warnings)."""
    return "".join(
        o.text
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stderr"
    )
