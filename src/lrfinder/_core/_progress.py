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
# How often the steps counted are handed to tqdm: its update() is a small model's step's worth of
# Python, and it redraws only every 0.1 s anyway.
TICK_EVERY_S = 0.05


class StepBar:
    """The range test's progress: one tick per recorded step, with its rate and smoothed loss.

    Silent when disabled or when tqdm is missing. Every step is counted, but the count reaches
    tqdm at most every ``TICK_EVERY_S`` seconds (and on :meth:`close`), and the figures beside
    the bar are formatted at most every ``POSTFIX_EVERY_S`` seconds, so a fast sweep does not
    spend its time on the bar; a slow one ticks at every step.
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
        self._tick_due = 0.0
        self._pending = 0

    def step(self, rt: RangeTest) -> None:
        """Tick once for the step ``rt`` just recorded."""
        if self._bar is None:
            return
        self._pending += 1
        now = time.perf_counter()
        if now < self._tick_due:
            return
        self._tick_due = now + TICK_EVERY_S
        if now >= self._postfix_due and math.isfinite(rt.smoothed_loss):
            self._postfix_due = now + POSTFIX_EVERY_S
            self._bar.set_postfix(
                lr=f"{rt.last_lr:.2e}", loss=f"{rt.smoothed_loss:.4g}", refresh=False
            )
        self._bar.update(self._pending)
        self._pending = 0

    def close(self) -> None:
        if self._bar is not None:
            if self._pending:
                self._bar.update(self._pending)
                self._pending = 0
            self._bar.close()


def progress_bar(enabled: bool, total: int) -> StepBar:
    """The range test's progress bar over ``total`` steps (see :class:`StepBar`)."""
    return StepBar(enabled, total)
