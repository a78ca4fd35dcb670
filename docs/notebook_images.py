"""Write the picture and the table of docs/notebooks.md from a real run.

Runs the range test of the demo (a small PyTorch MLP on scikit-learn's digits), asks the result
for the HTML a notebook shows (``result._repr_html_()``), saves its embedded plot as
docs/notebook_result.png and puts its table of suggestions into docs/notebooks.md between the
``notebook-table`` markers. Run it from the repository root after changing the display:

    .venv/bin/python docs/notebook_images.py
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from lrfinder.cli._demo import run_demo

DOCS = Path(__file__).resolve().parent
BEGIN, END = "<!-- notebook-table: begin -->", "<!-- notebook-table: end -->"


def main() -> None:
    result = run_demo(num_steps=100, seed=0, progress=False)
    html = result._repr_html_()
    assert html is not None, "the notebook display is not registered: import lrfinder"
    (png,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    (DOCS / "notebook_result.png").write_bytes(base64.b64decode(png))
    table = re.sub(r"<img [^>]*/>", "", html)
    page = DOCS / "notebooks.md"
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    page.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {DOCS / 'notebook_result.png'} and the table in {page}")


if __name__ == "__main__":
    main()
