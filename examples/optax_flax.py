"""The range test for a Flax NNX model trained with Optax, on scikit-learn's digits data.

pip install "lrfinder[jax]" flax scikit-learn
python examples/optax_flax.py
"""

from __future__ import annotations

import jax
import optax
from flax import nnx
from sklearn.datasets import load_digits

import lrfinder
import lrfinder.optax


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(64, 32, rngs=rngs)
        self.out = nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(nnx.relu(self.hidden(x)))


def main(num_steps: int = 100, progress: bool = True) -> lrfinder.RangeTestResult:
    digits = load_digits()
    x = ((digits.data - digits.data.mean(0)) / (digits.data.std(0) + 1e-8)).astype("float32")
    batches = [(x[i : i + 32], digits.target[i : i + 32]) for i in range(0, len(x) - 31, 32)]

    # The functional split: the jitted step takes the parameters as a pytree and returns new ones.
    graphdef, params = nnx.split(MLP(nnx.Rngs(0)))
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)

    @jax.jit
    def train_step(params, opt_state, batch):
        inputs, labels = batch

        def loss_fn(params):
            logits = nnx.merge(graphdef, params)(inputs)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    result = lrfinder.optax.find_lr(
        train_step,
        params,
        tx.init(params),
        batches,
        start_lr=1e-5,
        end_lr=10,
        num_steps=num_steps,
        progress=progress,
    )
    # `params` is untouched: train from it with the suggested rate.
    suggestion = result.suggestion
    print(f"suggested learning rate: {suggestion.lr:.3g} ({suggestion.reason})")
    print(
        f"{result.steps} steps, stopped: {result.stop_reason}, lowest loss {min(result.losses):.3f}"
    )
    return result


if __name__ == "__main__":
    main()
