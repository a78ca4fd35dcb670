"""Reading a saved file: only regular files, bounded by the bytes read, never blocking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lrfinder import RangeTestResult, ResultFileError
from lrfinder._core._files import read_text

needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs /dev/zero and mkfifo")


@needs_posix
def test_a_device_is_refused_before_reading() -> None:
    # st_size is 0 for /dev/zero: a limit read off stat would read until memory runs out.
    with pytest.raises(ResultFileError, match=r"Cannot read /dev/zero: it is not a regular file"):
        RangeTestResult.load("/dev/zero")


@needs_posix
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "curve.json"
    os.mkfifo(fifo)
    # In a child process with a timeout: a blocking open would hang the suite forever.
    code = (
        "import sys; from lrfinder import RangeTestResult, ResultFileError\n"
        "try:\n    RangeTestResult.load(sys.argv[1])\n"
        "except ResultFileError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert "it is not a regular file" in out.stdout, out.stderr


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match=r"it is a directory; pass a saved range test"):
        RangeTestResult.load(tmp_path)


def test_the_limit_counts_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 11)
    with pytest.raises(ResultFileError, match=r"larger than any thing: more than 10 bytes"):
        read_text(path, max_bytes=10, what="thing")
    assert read_text(path, max_bytes=11, what="thing") == "x" * 11


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    path.write_bytes(b"\xef\xbb\xbflr,loss\n0.1,1\n0.2,2\n")
    assert RangeTestResult.load(path).steps == 2
