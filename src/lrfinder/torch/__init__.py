"""The range test for PyTorch: a model, an optimizer and batches in; a result out; no trace left.

>>> import torch, lrfinder.torch
>>> model = torch.nn.Linear(4, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
>>> data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
>>> result = lrfinder.torch.find_lr(model, opt, data, loss_fn=torch.nn.functional.mse_loss,
...                                 num_steps=20, progress=False)
>>> result.steps <= 20
True
"""

from .._core._frameworks import missing_framework

try:
    import torch  # noqa: F401 (the modules below import it; this names the fix if it is missing)
except ModuleNotFoundError as exc:
    raise missing_framework(
        exc, module="lrfinder.torch", framework="PyTorch", extra="torch"
    ) from exc

from ._apply import apply as apply
from ._find import find_lr as find_lr
from ._refind import LoopRefinder as LoopRefinder
from ._schedule import ScheduleLR as ScheduleLR
from ._snapshot import Snapshot as Snapshot
from ._step import forward_loss as forward_loss
from ._step import loss_from_output as loss_from_output
from ._tune import tune_lr as tune_lr

__all__ = [
    "LoopRefinder",
    "ScheduleLR",
    "Snapshot",
    "apply",
    "find_lr",
    "forward_loss",
    "loss_from_output",
    "tune_lr",
]
