"""A PyTorch ``LRScheduler`` that drives an optimizer with any lrfinder schedule.

Re-exported as ``lrfinder.torch.ScheduleLR``. The schedule gives the first parameter group's rate;
every other group keeps its ratio to the first, as in the range test.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from .._core._errors import LRFinderError
from ..schedules._basic import Schedule


class ScheduleLR(LRScheduler):
    """Set each parameter group's rate from ``schedule(step)``, keeping the groups' ratios.

    The first group gets ``schedule(step)``; a group whose ``lr`` was twice the first group's when
    the scheduler was built gets twice that. An optional ``momentum`` schedule sets SGD's
    ``momentum`` (or Adam's beta1) in every group, for one-cycle and cyclical policies.

    Call ``step()`` after each ``optimizer.step()``, as with any PyTorch scheduler. Since the rate
    is a pure function of the step, ``state_dict`` / ``load_state_dict`` resume exactly, mid-cycle
    included; build the new scheduler with the same schedule before loading (the schedule itself
    is code, so it is not saved, as with ``LambdaLR``).

    Examples:
        >>> import torch
        >>> from lrfinder import schedules
        >>> from lrfinder.torch import ScheduleLR
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> sched = ScheduleLR(
        ...     opt,
        ...     schedules.one_cycle(0.1, total_steps=1000),
        ...     momentum=schedules.one_cycle_momentum(total_steps=1000),
        ... )
        >>> round(opt.param_groups[0]["lr"], 12), opt.param_groups[0]["momentum"]
        (0.004, 0.95)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        *,
        momentum: Schedule | None = None,
        last_epoch: int = -1,
    ) -> None:
        if not callable(schedule):
            raise LRFinderError(
                "`schedule` must be a function of the step, such as one from lrfinder.schedules. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.momentum = momentum
        if momentum is not None:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise LRFinderError(
                    "`momentum` needs an optimizer with `momentum` or `betas`. "
                    f"Received: {type(optimizer).__name__}; drop `momentum` or use SGD/Adam"
                )
        rates = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        if not rates[0] > 0:
            raise LRFinderError(
                "The first parameter group's `lr` sets the ratio of the others and must be above "
                f"0. Received: lr={rates[0]!r}; give every group a positive rate"
            )
        self.ratios = [r / rates[0] for r in rates]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The rate of every group at the current step (``last_epoch``)."""
        step = self.last_epoch
        lr = float(self.schedule(step))
        if self.momentum is not None:
            value = float(self.momentum(step))
            for group in self.optimizer.param_groups:
                if "betas" in group:
                    group["betas"] = (value, *group["betas"][1:])
                else:
                    group["momentum"] = value
        return [lr * ratio for ratio in self.ratios]

    def state_dict(self) -> dict[str, Any]:
        """The step and the group ratios, without the schedules (they are code, not state)."""
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "schedule", "momentum")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; the next ``step()`` continues the schedule exactly."""
        if "last_epoch" not in state_dict or "ratios" not in state_dict:
            raise LRFinderError(
                "Not a ScheduleLR state: `last_epoch` or `ratios` is missing. "
                f"Received keys: {sorted(state_dict)!r}; pass what `ScheduleLR.state_dict()` "
                "returned"
            )
        state = {k: v for k, v in state_dict.items() if k not in ("schedule", "momentum")}
        self.__dict__.update(state)
