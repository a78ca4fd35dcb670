"""Reading a saved file safely: a regular file only, never more than a set number of bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ._errors import ResultFileError


def read_text(path: Path, *, max_bytes: int, what: str) -> str:
    """The text of ``path`` (UTF-8, a leading BOM dropped), refusing what no saved ``what`` is.

    ``stat`` cannot bound a read: a device (``/dev/zero``) or a FIFO reports a size of 0. The
    file is opened without blocking (a FIFO with no writer would wait forever), refused unless
    it is a regular file, and read up to ``max_bytes + 1`` bytes at most.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ResultFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ResultFileError(f"Cannot read {path}: it is {kind}; pass a saved {what} file.")
        with os.fdopen(fd, "rb") as f:
            fd = -1  # the file object owns it now
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise ResultFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise ResultFileError(
            f"{path} is larger than any {what}: more than {max_bytes} bytes were read "
            f"({max_bytes} at most)."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ResultFileError(f"{path} is not a text file (it is not UTF-8).") from None
