"""Tables as tools write them (lrfinder/_core/_table.py): delimiters, BOM, comments, blank
cells, decimal commas; the fast path (np.loadtxt) and the row-by-row one agree."""

from __future__ import annotations

import numpy as np
import pytest

from lrfinder import RangeTestResult, ResultFileError
from lrfinder._core._table import read_table

ROWS = [(1e-4, 2.0), (1e-3, 1.5), (1e-2, 0.9), (1e-1, 3.0)]


def table_text(sep: str, *, header: str = "lr{s}loss", decimal: str = ".") -> str:
    lines = [header.format(s=sep)]
    lines += [f"{lr!r}{sep}{loss!r}".replace(".", decimal) for lr, loss in ROWS]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("sep", [",", "\t", ";", " ", "   "])
def test_the_delimiter_is_sniffed_from_the_header(sep: str) -> None:
    r = RangeTestResult.from_csv(table_text(sep))
    assert r.lrs.tolist() == [lr for lr, _ in ROWS]
    assert r.losses.tolist() == [loss for _, loss in ROWS]


def test_a_byte_order_mark_and_comments_before_the_header_are_skipped() -> None:
    text = "\ufeff# exported by a spreadsheet\n\n" + table_text(";")
    assert RangeTestResult.from_csv(text).steps == len(ROWS)


def test_european_semicolon_files_with_decimal_commas() -> None:
    r = RangeTestResult.from_csv(table_text(";", decimal=","))
    assert r.lrs.tolist() == [lr for lr, _ in ROWS]
    assert r.losses.tolist() == [loss for _, loss in ROWS]


def test_a_header_of_one_column_says_how_to_separate_them() -> None:
    with pytest.raises(ResultFileError, match=r"header 'lr\|loss' has one column: separate"):
        RangeTestResult.from_csv("lr|loss\n0.1|1\n")


def test_a_header_only_file_is_told_to_log_steps_not_to_change_the_sweep() -> None:
    with pytest.raises(ResultFileError, match=r"has a header but no rows") as exc:
        RangeTestResult.from_csv("lr,loss\n\n")
    assert "start_lr" not in str(exc.value)


def test_a_bad_cell_names_its_line_and_column() -> None:
    with pytest.raises(ResultFileError, match=r"not numbers: line 4, column `loss` holds 'oops'"):
        RangeTestResult.from_csv("# comment\nlr,loss\n0.1,1\n0.2,oops\n")


def test_the_fast_and_the_row_by_row_readings_agree() -> None:
    table = read_table("lr,loss,note\n0.1,nan,a\n0.2,-inf,b\n0.3,1e-300,c\n")
    fast, blank = table.numbers([0, 1])
    slow, slow_blank = table._numbers_by_row([0, 1])
    assert blank is None and slow_blank is None
    np.testing.assert_array_equal(fast, slow)
    # A blank cell is "not logged here", told apart from a written nan.
    values, mask = read_table("lr,loss\n0.1,nan\n0.2,\n").numbers([0, 1])
    assert mask is not None and mask.tolist() == [[False, False], [False, True]]
    assert np.isnan(values[:, 1]).all()


def test_a_cell_longer_than_any_number_is_refused() -> None:
    with pytest.raises(ResultFileError, match=r"a cell far longer than any number"):
        RangeTestResult.from_csv("lr,loss\n0.1," + "9" * 5000 + "\n0.2,1\n")
