"""Tables of numbers as tools write them: comma, tab, semicolon or space separated, a header line,
``#`` comments, blank cells, decimal commas; parsed by ``np.loadtxt`` when the file allows it.

A curve file is read in two steps: :func:`read_table` finds the header, the delimiter and the
``# lrfinder: {...}`` line, and :meth:`Table.numbers` parses the columns a curve needs. The fast
path hands the body to ``np.loadtxt``; only a file it rejects (blank cells, decimal commas, a bad
cell) is read again row by row, to load it or to name the line that is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import ResultFileError

# Where lrfinder keeps a result's stop reason, settings and timings in a CSV: a comment line first.
META_PREFIX = "# lrfinder:"
# No number needs a cell this long; a longer one is a hostile or broken file, refused before
# parsing (a 200,000-digit "number" would otherwise read as inf).
MAX_CELL_CHARS = 1000
_DELIMITERS = (",", "\t", ";")
_DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", None: "spaces"}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class Table:
    """A header and the text of the rows below it, not parsed yet."""

    columns: tuple[str, ...]
    delimiter: str | None  # None: runs of spaces
    body: str
    first_line: int  # the line number of the body's first line, for messages
    meta: dict[str, Any] | None  # the `# lrfinder: {...}` line, parsed

    def index(self, names: tuple[str, ...]) -> int | None:
        """The first column called one of ``names`` (case and spaces ignored), or None."""
        wanted = [n.lower() for n in names]
        keys = [c.strip().lower() for c in self.columns]
        return next((keys.index(n) for n in wanted if n in keys), None)

    def numbers(self, cols: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """The columns ``cols`` as floats, one row per data line, and where cells were blank.

        Returns ``(values, blank)``: ``values`` has shape ``(rows, len(cols))``; ``blank`` is
        None when every cell was filled, else a mask with NaN in ``values`` where it is set
        (a blank cell is "not logged here", unlike a written ``nan``).
        """
        if not self.body or self.body.isspace():
            raise ResultFileError(
                "The CSV file has a header but no rows: no step was logged. Save the rate and "
                "the loss of every step of the range test, one row each."
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy's "input contained no data" and kin
                values = np.loadtxt(
                    self.body.splitlines(),
                    delimiter=self.delimiter,
                    usecols=cols,
                    comments="#",
                    quotechar='"',
                    ndmin=2,
                    dtype=float,
                )
        except (ValueError, UserWarning):
            values, blank = self._numbers_by_row(cols)
        else:
            blank = None
        # Only a non-finite value can hide an absurdly long cell (200,000 digits read as inf).
        if not np.isfinite(values).all() and _longest_cell(self.body) > MAX_CELL_CHARS:
            raise ResultFileError(
                "Not a readable CSV file: it has a cell far longer than any number "
                f"({MAX_CELL_CHARS} characters at most)."
            )
        return values, blank

    def _numbers_by_row(self, cols: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        lines = io.StringIO(self.body)
        if self.delimiter is None:
            reader: Any = ((ln.split(), i) for i, ln in enumerate(lines))
        else:
            rows = csv.reader(lines, delimiter=self.delimiter)
            reader = ((row, rows.line_num - 1) for row in rows)
        values: list[list[float]] = []
        blanks: list[list[bool]] = []
        try:
            for row, offset in reader:
                if not row or not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
                    continue
                line = self.first_line + offset
                cells = [row[c].strip() if c < len(row) else "" for c in cols]
                blanks.append([not c for c in cells])
                values.append(
                    [self._cell(c, line, col) for c, col in zip(cells, cols, strict=True)]
                )
        except csv.Error as exc:
            raise ResultFileError(f"Not a readable CSV file: {exc}") from None
        if not values:
            raise ResultFileError(
                "The CSV file has a header but no rows of numbers: no step was logged."
            )
        mask = np.array(blanks, dtype=bool)
        return np.array(values, dtype=float), (mask if mask.any() else None)

    def _cell(self, cell: str, line: int, col: int) -> float:
        if not cell:
            return float("nan")
        try:
            return float(cell)
        except ValueError:
            pass
        if self.delimiter != "," and _DECIMAL_COMMA.match(cell):
            return float(cell.replace(",", "."))
        raise ResultFileError(
            f"The CSV has a row that is not numbers: line {line}, column "
            f"`{self.columns[col]}` holds {cell[:40]!r}. Every cell of the rate and loss columns "
            "must be a number (nan and inf are numbers; a blank cell means not logged)."
        )


def read_table(text: str) -> Table:
    """Find the header (the first line that is neither blank nor a ``#`` comment), the delimiter
    and lrfinder's ``# lrfinder: {...}`` line."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ResultFileError("The CSV file is empty; it needs a header with `lr` and `loss`.")
    if "\x00" in text:
        raise ResultFileError("Not a readable CSV file: it holds NUL bytes (a binary file?).")
    meta: dict[str, Any] | None = None
    pos = 0
    line_no = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end].rstrip("\r")
        line_no += 1
        pos = end + 1
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.startswith(META_PREFIX):
                meta = _meta(stripped[len(META_PREFIX) :])
            continue
        delimiter = _sniff(stripped)
        header = (
            stripped.split()
            if delimiter is None
            else next(csv.reader([stripped], delimiter=delimiter))
        )
        return Table(
            columns=tuple(h.strip() for h in header),
            delimiter=delimiter,
            body=text[pos:],
            first_line=line_no + 1,
            meta=meta,
        )
    raise ResultFileError(
        "The CSV file holds only comments; it needs a header with `lr` and `loss`."
    )


def _sniff(header: str) -> str | None:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    if counts[best]:
        return best
    if len(header.split()) > 1:
        return None
    raise ResultFileError(
        f"The CSV header {header[:80]!r} has one column: separate the columns with commas, "
        "tabs or semicolons (none was found), e.g. `lr,loss`."
    )


def _meta(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ResultFileError(f"The `{META_PREFIX}` line is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ResultFileError(
            f"The `{META_PREFIX}` line must hold a JSON object. Received a {type(data).__name__}"
        )
    return data


def _longest_cell(text: str) -> int:
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    # 10 newline, 9 tab, 44 comma, 59 semicolon, 32 space
    breaks = np.flatnonzero((data == 10) | (data == 44) | (data == 59) | (data == 9) | (data == 32))
    edges = np.concatenate(([-1], breaks, [data.size]))
    return int(np.diff(edges).max()) - 1
