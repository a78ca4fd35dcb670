"""The figure class lrfinder draws on: matplotlib's, able to show itself in a notebook.

Imported only when a plot is drawn (it imports matplotlib). A bare ``Figure`` is not managed by
pyplot, so Jupyter shows it only after ``%matplotlib inline`` registers a formatter; this one
carries its own ``_repr_png_``, so ``fig`` alone in a cell shows the image in any kernel.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ._plot import png_bytes


class ShownFigure(Figure):
    """A matplotlib ``Figure`` that a notebook shows as an image."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)
