"""The range test for JAX with Optax: your jitted step, compiled once, at every rate of the sweep.

The optimizer must be wrapped in ``optax.inject_hyperparams``, which keeps its learning rate in
``opt_state.hyperparams["learning_rate"]`` as an array: lrfinder writes each rate of the sweep
there, so a jitted ``train_step`` sees a new value, not a new constant, and is traced only once.

>>> import jax, jax.numpy as jnp, optax, lrfinder.optax
>>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
>>> params = {"w": jnp.zeros(4)}
>>> @jax.jit
... def train_step(params, opt_state, batch):
...     x, y = batch
...     loss, grads = jax.value_and_grad(lambda p: jnp.mean((x @ p["w"] - y) ** 2))(params)
...     updates, opt_state = tx.update(grads, opt_state, params)
...     return optax.apply_updates(params, updates), opt_state, loss
>>> batches = [(jnp.ones((8, 4)), jnp.ones(8))] * 4
>>> result = lrfinder.optax.find_lr(train_step, params, tx.init(params), batches,
...                                 num_steps=20, progress=False)
>>> result.steps <= 20
True
"""

from .._core._frameworks import missing_framework

try:
    import jax  # noqa: F401 (the modules below import them; this names the fix if one is missing)
    import optax  # noqa: F401
except ModuleNotFoundError as exc:
    raise missing_framework(
        exc, module="lrfinder.optax", framework="JAX and Optax", extra="jax"
    ) from exc

from ._apply import apply as apply
from ._find import find_lr as find_lr
from ._schedule import optax_schedule as optax_schedule
from ._tune import tune_lr as tune_lr

__all__ = ["apply", "find_lr", "optax_schedule", "tune_lr"]
