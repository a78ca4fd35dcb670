"""Set a found rate on a PyTorch optimizer: every parameter group, their ratios kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._core._apply import rate_of, register_applier
from .._core._rangetest import ratios_to_first
from ._find import as_optimizers


@register_applier("torch")
def apply(
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer], lr: Any
) -> torch.optim.Optimizer | Sequence[torch.optim.Optimizer]:
    """Set ``lr`` (a rate, a :class:`lrfinder.Suggestion` or a ``TuneResult``) on ``optimizer``.

    The first parameter group gets ``lr``; every other group keeps its ratio to the first, as
    the range test swept them (discriminative fine-tuning: a backbone at a tenth of the head's
    rate stays at a tenth). With several optimizers, their groups count in order as one list.
    A learning-rate scheduler built before this call keeps the rates it was built with: build
    it afterwards (``OneCycleLR`` takes its peak as ``max_lr`` anyway).

    Returns:
        ``optimizer``, so ``opt = lrfinder.torch.apply(make_optimizer(), result.suggestion)``.

    Examples:
        >>> import torch, lrfinder.torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> opt = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.001},
        ...                        {"params": net[1].parameters(), "lr": 0.01}])
        >>> _ = lrfinder.torch.apply(opt, 0.05)
        >>> [round(g["lr"], 6) for g in opt.param_groups]
        [0.05, 0.5]
    """
    rate = rate_of(lr)
    optimizers = as_optimizers(
        optimizer,
        "Pass it, or a list of them: to set the rate of a model's training, pass its optimizer.",
    )
    groups = [g for o in optimizers for g in o.param_groups]
    current = [float(g["lr"]) for g in groups]
    ratios = ratios_to_first(current, what="parameter group's `lr`", name="lr")
    for group, ratio in zip(groups, ratios, strict=True):
        group["lr"] = rate * ratio
    return optimizer
