"""What every plot function returns: the figure and its axes, a pair that shows itself.

Scripts unpack it (``fig, ax = plot_loss(result)``); in a notebook, a plot left as a cell's last
line shows the image, where a plain tuple would print its repr. The figures lrfinder builds show
themselves too (``fig`` alone in a cell), without ``%matplotlib inline`` or pyplot.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

AxesT = TypeVar("AxesT")
# Sharp enough on a laptop screen; a two-panel plot stays near 100 kB.
DPI = 100


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (drawn by Agg, no display needed)."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


class Plot(NamedTuple, Generic[AxesT]):
    """A figure and its axes: ``fig, ax = plot`` unpacks it; ``plot.savefig(path)`` saves it."""

    figure: Figure
    axes: AxesT

    def savefig(self, path: Any, **options: Any) -> None:
        """``figure.savefig(path, **options)``."""
        self.figure.savefig(path, **options)

    def _repr_png_(self) -> bytes:
        return png_bytes(self.figure)
