"""Bit-exact capture of everything a PyTorch range test may touch, for before/after comparisons."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import torch


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's shard of a sharded tensor (DTensor), compared without any collective."""
    to_local = getattr(tensor, "to_local", None)
    return tensor if to_local is None else to_local()


def _clone(value: Any) -> Any:
    if torch.is_tensor(value):
        return _plain(value.detach()).clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return copy.deepcopy(value)


def capture(
    model: torch.nn.Module,
    optimizers: list[torch.optim.Optimizer] | torch.optim.Optimizer,
    *extras: Any,
) -> dict[str, Any]:
    """Parameters (values, requires_grad, grads), buffers, modes, optimizer state and groups and
    flags, extras' state_dict (schedulers, scalers) and every RNG state, deep-copied."""
    if isinstance(optimizers, torch.optim.Optimizer):
        optimizers = [optimizers]
    return {
        "params": [
            (name, _clone(p), p.requires_grad, _clone(p.grad), type(p).__name__)
            for name, p in model.named_parameters()
        ],
        "buffers": [(name, _clone(b)) for name, b in model.named_buffers()],
        "modes": [m.training for m in model.modules()],
        "optimizers": [
            (
                _clone(opt.state_dict()),
                {k: v for k, v in vars(opt).items() if isinstance(v, (bool, int, float, str))},
            )
            for opt in optimizers
        ],
        "extras": [_clone(e.state_dict()) for e in extras],
        "scaler_tensors": [
            _clone({k: v for k, v in vars(e).items() if torch.is_tensor(v)}) for e in extras
        ],
        "rng": (
            random.getstate(),
            np.random.get_state()[1].copy(),  # noqa: NPY002 (the global state users seed)
            torch.get_rng_state(),
        ),
    }


def assert_same(a: Any, b: Any, path: str = "state") -> None:
    """Equal bit for bit (NaN equal to NaN), with the path of the first difference."""
    if torch.is_tensor(a) or torch.is_tensor(b):
        assert torch.is_tensor(a) and torch.is_tensor(b), path
        assert a.dtype == b.dtype and a.shape == b.shape and a.device == b.device, path
        assert torch.equal(a, b) or (
            torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
        ), path
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: {a.keys()} != {b.keys()}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
