"""The small MLP and digits batches the adapter tests share, with a numpy reference loss."""

from __future__ import annotations

import numpy as np

BATCH = 32


def digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` standardised digits images (float32) and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data - data.data.mean(0)) / (data.data.std(0) + 1e-8)
    return x[:n].astype("float32"), data.target[:n].astype("int32")


def batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = digits(n)
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, n, BATCH)]


def init_params(seed: int = 0) -> dict[str, np.ndarray]:
    """64 -> 32 (ReLU) -> 10 weights; kernels stored (inputs, outputs) as in Keras and JAX."""
    rng = np.random.default_rng(seed)
    return {
        "w1": (rng.standard_normal((64, 32)) / 8).astype("float32"),
        "b1": np.zeros(32, "float32"),
        "w2": (rng.standard_normal((32, 10)) / np.sqrt(32)).astype("float32"),
        "b2": np.zeros(10, "float32"),
    }


def numpy_loss(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """The batch's mean cross-entropy, computed in float64 numpy."""
    p = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    logits = np.maximum(x @ p["w1"] + p["b1"], 0.0) @ p["w2"] + p["b2"]
    z = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))
