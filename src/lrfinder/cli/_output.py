"""Where the commands write their images, and saving them without a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core._errors import LRFinderError


def image_path(path: Path, default_name: str) -> Path:
    """Where ``-o PATH`` writes: ``PATH/default_name`` for a directory, ``PATH`` otherwise.

    matplotlib would write ``DIR.png`` beside a directory given without a suffix; a name with
    no suffix gets ``.png``, as matplotlib does, so the message names the file written.
    """
    if path.is_dir():
        return path / default_name
    return path if path.suffix else path.with_suffix(".png")


class UsageError(LRFinderError):
    """Flags that cannot work, found before any work is done: exit code 2."""


def check_image_path(path: Path, default_name: str, flag: str) -> None:
    """Refuse an image name matplotlib cannot write before the curve is read or plotted."""
    target = image_path(path, default_name)
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:  # the plot itself says how to install it
        return
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UsageError(
            f"{flag} {path}: matplotlib cannot write .{suffix} images; end the name with one "
            f"of {', '.join('.' + f for f in sorted(formats))}"
        )


def save_figure(fig: Any, path: Path) -> None:
    """Save ``fig`` to ``path``; an unknown image format is an error, not a traceback."""
    try:
        fig.savefig(path, dpi=120)
    except ValueError as exc:  # matplotlib: "Format 'xyz' is not supported"
        raise LRFinderError(f"Cannot write the image {path}: {exc}") from None
