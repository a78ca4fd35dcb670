"""The demo: a range test on scikit-learn's bundled digits data with a small PyTorch MLP and SGD,
and the race that follows it."""

from __future__ import annotations

from typing import Any

from .._core._result import RangeTestResult
from .._tuning._race_result import TuneResult

START_LR, END_LR = 1e-5, 10.0
TUNE_STEPS = 300  # the training the race stands in for: about 13 epochs of the digits
VAL_BATCHES = 5  # with --tune, the last 5 batches (320 images) are held out to score the race


def _setup(seed: int) -> tuple[Any, Any, list[Any], Any]:
    """The digits (1,797 8x8 images, no download) in batches of 64, an MLP and SGD+momentum."""
    try:
        import torch
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            f"The demo needs PyTorch and scikit-learn ({exc.name} is missing): "
            "pip install 'lrfinder[demo]'"
        ) from None
    torch.manual_seed(seed)
    x, y = load_digits(return_X_y=True)
    inputs = torch.tensor(x / 16.0, dtype=torch.float32)
    targets = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed))
    batches = [(inputs[i], targets[i]) for i in order.split(64)]
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, optimizer, batches, torch.nn.functional.cross_entropy


def run_demo(
    *, num_steps: int = 100, seed: int = 0, progress: bool = True, hold_out: bool = False
) -> RangeTestResult:
    """Run the range test on the digits data and return it; with ``hold_out``, on the batches
    the race trains on (all but the last ``VAL_BATCHES``), so the race can read the same test."""
    from ..torch import find_lr

    model, optimizer, batches, loss_fn = _setup(seed)
    return find_lr(
        model,
        optimizer,
        batches[:-VAL_BATCHES] if hold_out else batches,
        loss_fn=loss_fn,
        start_lr=START_LR,
        end_lr=END_LR,
        num_steps=num_steps,
        progress=progress,
    )


def run_tune_demo(
    result: RangeTestResult, *, total_steps: int = TUNE_STEPS, seed: int = 0, progress: bool = True
) -> TuneResult:
    """The race of rates around ``result``'s suggestion (``run_demo(hold_out=True)``: the same
    seed, the same training batches) on the held-out batches."""
    from ..torch import tune_lr

    model, optimizer, batches, loss_fn = _setup(seed)
    return tune_lr(
        model,
        optimizer,
        batches[:-VAL_BATCHES],
        val_data=batches[-VAL_BATCHES:],
        val_batches=VAL_BATCHES,
        total_steps=total_steps,
        loss_fn=loss_fn,
        result=result,
        progress=progress,
    )
