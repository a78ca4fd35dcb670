"""Reduce-on-plateau: step-wise annealing driven by the monitored loss, not by the step.

Smith (2015/2017) lists it among the policies the range test's bounds feed: keep the rate until the
loss stops improving, then divide it. It needs the losses, so it is a small stateful controller
rather than a function of the step; its logic and defaults are PyTorch's ``ReduceLROnPlateau``.
"""

from __future__ import annotations

import math
from typing import Any

from .._core._checks import check_count
from .._core._errors import LRFinderError
from ._basic import check_choice, check_factor, check_rate


class ReduceLROnPlateau:
    """Divide the rate by ``1 / factor`` once the metric has not improved for ``patience`` steps.

    Call :meth:`step` with each new value of the monitored metric (a validation loss, usually
    once per epoch); it returns the rate to use next. An improvement must beat the best value by
    ``threshold`` (relative or absolute, per ``threshold_mode``); after a reduction, ``cooldown``
    steps pass before bad steps count again; the rate never goes below ``min_lr``, and changes
    smaller than ``eps`` are skipped.

    Examples:
        >>> plateau = ReduceLROnPlateau(0.1, patience=1, factor=0.5)
        >>> [plateau.step(loss) for loss in (1.0, 0.9, 0.9, 0.9)]
        [0.1, 0.1, 0.1, 0.05]
    """

    def __init__(
        self,
        lr: float,
        *,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.lr = check_rate("lr", lr)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_factor("factor", factor, closed=False)
        self.patience = check_count("patience", patience, minimum=0)
        self.threshold = check_rate("threshold", threshold)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_count("cooldown", cooldown, minimum=0)
        self.min_lr = check_rate("min_lr", min_lr)
        self.eps = check_rate("eps", eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_steps = 0
        self.cooldown_counter = 0
        self.steps = 0

    def _is_better(self, value: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return value < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return value < self.best - self.threshold
        if self.threshold_mode == "rel":
            return value > self.best * (self.threshold + 1.0)
        return value > self.best + self.threshold

    def step(self, metric: float) -> float:
        """Record one value of the monitored metric; return the rate to use from now on."""
        value = float(metric)
        if math.isnan(value):
            raise LRFinderError(
                f"The monitored metric must be a number. Received: metric={metric!r}"
            )
        self.steps += 1
        if self._is_better(value):
            self.best = value
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_steps = 0
        if self.num_bad_steps > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_steps = 0
        return self.lr

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON-able data."""
        return dict(vars(self))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`."""
        unknown = set(state) - set(vars(self))
        if unknown:
            raise LRFinderError(
                "Not a ReduceLROnPlateau state: unknown keys. "
                f"Received: {sorted(unknown)!r}; pass what `state_dict()` returned"
            )
        vars(self).update(state)
