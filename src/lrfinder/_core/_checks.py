"""Argument checks shared by every module: one rule, one message."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import LRFinderError


def check_count(name: str, value: Any, *, minimum: int = 1) -> int:
    """An integer count (steps, batches, a window), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise LRFinderError(
            f"`{name}` must be an integer of at least {minimum}. Received: {name}={value!r}"
        )
    return int(value)
