"""Progress bars through tqdm, when it is installed and wanted."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("lrfinder")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, total: int, desc: str = "range test") -> Any:
    """A tqdm bar over ``total`` steps, or a silent stand-in when disabled or tqdm is missing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        logger.info("Install tqdm (pip install tqdm) to see the range test's progress.")
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="step", leave=False)
