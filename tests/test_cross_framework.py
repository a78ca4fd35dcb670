"""The same MLP (same initial weights, same batches, plain SGD) through lrfinder.torch,
lrfinder.keras on the torch and jax backends, and lrfinder.optax: the curves agree and so do the
suggestions.

This runs in the JAX pass of ``make test`` (KERAS_BACKEND=jax);
Keras on torch runs in a subprocess, since Keras reads its backend once per process. Print the
numbers with ``KERAS_BACKEND=jax python tests/test_cross_framework.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if __name__ == "__main__":  # run as a script: find the shared helpers as pytest does
    sys.path.insert(0, str(Path(__file__).parent / "_support"))

from _jax_pass import skip_outside_jax_pass

if __name__ != "__main__":
    skip_outside_jax_pass()
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("sklearn")

import lrfinder  # noqa: E402
import lrfinder.keras  # noqa: E402
import lrfinder.optax  # noqa: E402
import lrfinder.torch  # noqa: E402
from _mlp import BATCH, digits, init_params  # noqa: E402
from lrfinder import RangeTestResult  # noqa: E402

N = 1792  # 56 full batches: every framework sees the same batches in the same order
SWEEP = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 100, "progress": False}


def with_torch(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> RangeTestResult:
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    with torch.no_grad():
        for layer, w, b in ((model[0], p["w1"], p["b1"]), (model[2], p["w2"], p["b2"])):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))  # torch stores (outputs, inputs)
            layer.bias.copy_(torch.from_numpy(b))
    data = [
        (torch.from_numpy(x[i : i + BATCH]), torch.from_numpy(y[i : i + BATCH]).long())
        for i in range(0, len(x), BATCH)
    ]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.functional.cross_entropy
    return lrfinder.torch.find_lr(model, optimizer, data, loss_fn=loss_fn, **SWEEP)


def with_keras(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> RangeTestResult:
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.set_weights([p["w1"], p["b1"], p["w2"], p["b2"]])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return lrfinder.keras.find_lr(model, x, y, batch_size=BATCH, shuffle=False, **SWEEP)


def with_optax(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> RangeTestResult:
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)

    def loss_fn(params, xb, yb):
        hidden = jax.nn.relu(xb @ params["w1"] + params["b1"])
        logits = hidden @ params["w2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def train_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = jax.tree.map(jax.numpy.asarray, p)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    return lrfinder.optax.find_lr(train_step, params, tx.init(params), batches, **SWEEP)


def keras_on_torch(folder: Path) -> RangeTestResult:
    """lrfinder.keras on the torch backend, in a process of its own, through a saved result."""
    path = folder / "keras_torch.json"
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    command = [sys.executable, "-W", "error", __file__, "keras", str(path)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return RangeTestResult.load(path)


def run_all(folder: Path) -> dict[str, RangeTestResult]:
    x, y = digits(N)
    p = init_params()
    return {
        "torch": with_torch(x, y, p),
        "keras[torch]": keras_on_torch(folder),
        f"keras[{keras.config.backend()}]": with_keras(x, y, p),
        "optax": with_optax(x, y, p),
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RangeTestResult]:
    return run_all(tmp_path_factory.mktemp("cross"))


def test_every_framework_took_part(results) -> None:
    assert set(results) == {"torch", "keras[torch]", "keras[jax]", "optax"}
    assert results["keras[torch]"].settings["backend"] == "torch"
    assert results["keras[jax]"].settings["backend"] == "jax"


def test_the_curves_agree(results) -> None:
    reference = results["torch"]
    for name, result in results.items():
        np.testing.assert_array_equal(result.lrs[:10], reference.lrs[:10], err_msg=name)
        n = min(result.steps, reference.steps)
        # Only float32 round-off differs; measured below 1e-5 over the whole curve.
        np.testing.assert_allclose(result.losses[:n], reference.losses[:n], rtol=1e-4, err_msg=name)
        assert abs(result.steps - reference.steps) <= 1, name
        assert result.stop_reason == reference.stop_reason, name


def test_the_suggestions_agree_within_a_factor_of_two(results) -> None:
    rates = {name: result.suggestion.lr for name, result in results.items()}
    assert max(rates.values()) / min(rates.values()) < 2.0, rates


if __name__ == "__main__" and sys.argv[1:2] == ["keras"]:
    with_keras(*digits(N), init_params()).save(sys.argv[2])
elif __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        all_results = run_all(Path(folder))
    reference = all_results["torch"]
    for name, result in all_results.items():
        n = min(result.steps, reference.steps)
        rel = np.abs(result.losses[:n] / reference.losses[:n] - 1)
        found = {
            k: f"{v.lr:.4g}" if isinstance(v, lrfinder.Suggestion) else "none"
            for k, v in lrfinder.suggest_all(result).items()
        }
        print(
            f"{name:13s} steps={result.steps} stop={result.stop_reason} "
            f"max_rel_loss_diff_vs_torch={rel.max():.2e} suggestions={found}"
        )
