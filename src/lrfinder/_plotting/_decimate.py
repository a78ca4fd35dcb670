"""Fewer points to draw, the same picture: a long curve is cut into buckets, narrower than a
pixel, and only each bucket's lowest and highest points are drawn.

For drawing only, never for reading: the rules read every point. A spike of one step stays
visible, since it is the highest point of its bucket; a line through a million points would
draw no differently and stops matplotlib's renderer (``OverflowError: Exceeded cell block
limit``) besides taking seconds.
"""

from __future__ import annotations

import numpy as np

# A panel of lrfinder's 7-inch figures is about 600 pixels wide at 100 dpi and 900 at 150;
# 1,000 buckets keep each under a pixel there (at 300 dpi, about two pixels: a spike still
# shows, as its bucket's highest point). Twice as many drew 40% slower at 10^6 points.
BUCKETS = 1000


def decimate(x: np.ndarray, y: np.ndarray, buckets: int = BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` at the first and last point and the lowest and highest ``y`` of each of
    ``buckets`` runs of consecutive points (at most ``2 * buckets + 2`` points, in order), or
    unchanged when they are no longer than that. ``y`` must be finite."""
    n = y.size
    if n <= 2 * buckets + 2:
        return x, y
    width = -(-n // buckets)
    rows = -(-n // width)
    # The last bucket is padded with its last value; an extreme found there is that point.
    padded = np.concatenate([y, np.full(rows * width - n, y[-1])]).reshape(rows, width)
    base = np.arange(rows) * width
    keep = np.concatenate(
        [[0, n - 1], base + np.argmin(padded, axis=1), base + np.argmax(padded, axis=1)]
    )
    keep = np.unique(np.minimum(keep, n - 1))
    return x[keep], y[keep]
