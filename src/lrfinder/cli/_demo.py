"""The demo: a range test on scikit-learn's bundled digits data with a small PyTorch MLP and SGD."""

from __future__ import annotations

from .._core._result import RangeTestResult


def run_demo(*, num_steps: int = 100, seed: int = 0, progress: bool = True) -> RangeTestResult:
    """Run the range test on the digits data (1,797 8x8 images, no download) and return it."""
    try:
        import torch
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            f"The demo needs PyTorch and scikit-learn ({exc.name} is missing): "
            "pip install 'lrfinder[demo]'"
        ) from None
    from ..torch import find_lr

    torch.manual_seed(seed)
    x, y = load_digits(return_X_y=True)
    inputs = torch.tensor(x / 16.0, dtype=torch.float32)
    targets = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed))
    batches = [(inputs[i], targets[i]) for i in order.split(64)]
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return find_lr(
        model,
        optimizer,
        batches,
        loss_fn=torch.nn.functional.cross_entropy,
        start_lr=1e-5,
        end_lr=10.0,
        num_steps=num_steps,
        progress=progress,
    )
