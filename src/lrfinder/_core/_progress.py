"""Progress bars through tqdm, when it is installed and wanted."""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._rangetest import RangeTest

logger = logging.getLogger("lrfinder")

# How often the rate and loss beside the bar are rewritten: formatting them costs more than a
# small model's training step, and nobody reads them faster than a few times a second.
POSTFIX_EVERY_S = 0.25


class StepBar:
    """The range test's progress: one tick per recorded step, with its rate and smoothed loss.

    Silent when disabled or when tqdm is missing. The figures beside the bar are formatted at most
    every ``POSTFIX_EVERY_S`` seconds and redrawn at tqdm's own pace, not on every step, so a fast
    sweep does not spend its time printing.
    """

    def __init__(self, enabled: bool, total: int, desc: str = "range test") -> None:
        self._bar: Any = None
        if not enabled:
            return
        try:
            with warnings.catch_warnings():
                # In a notebook without ipywidgets, tqdm.auto falls back to the text bar, which
                # notebooks show well, and warns "IProgress not found" on every first import.
                warnings.filterwarnings("ignore", message="IProgress not found")
                from tqdm.auto import tqdm
        except ImportError:
            logger.info("Install tqdm (pip install tqdm) to see the range test's progress.")
            return
        self._bar = tqdm(total=total, desc=desc, unit="step", leave=False)
        self._postfix_due = 0.0

    def step(self, rt: RangeTest) -> None:
        """Tick once for the step ``rt`` just recorded."""
        if self._bar is None:
            return
        now = time.perf_counter()
        if now >= self._postfix_due and math.isfinite(rt.smoothed_loss):
            self._postfix_due = now + POSTFIX_EVERY_S
            self._bar.set_postfix(
                lr=f"{rt.last_lr:.2e}", loss=f"{rt.smoothed_loss:.4g}", refresh=False
            )
        self._bar.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress_bar(enabled: bool, total: int) -> StepBar:
    """The range test's progress bar over ``total`` steps (see :class:`StepBar`)."""
    return StepBar(enabled, total)
