"""What lrfinder.optax.find_lr costs over a plain jitted loop that sets the rate by hand.

The same jitted Adam step (``optax.inject_hyperparams``), the same batches, 200 steps with the
rate growing exponentially: (a) a plain loop that writes the rate into the state's
``hyperparams`` dict as a 0-d numpy array and reads the loss each step, (a') the same loop
writing it through ``jnp.asarray`` (about 25 us a step more on a CPU), (b) ``find_lr`` reading
each loss at once (``defer_loss=False``), (c) ``find_lr`` as it runs by default, each loss read
once the next step is dispatched. A tiny
MLP (64-32-10, batch 16) and a 48-layer one (64 wide, 195 state leaves). Interleaved rounds,
medians of wall time, as a ratio to (a), the faster loop.

    .venv/bin/python -m benchmarks.optax_overhead [--rounds 15]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrfinder.optax

STEPS, START_LR, END_LR = 200, 1e-6, 1e-3


def problem(layers: int) -> tuple[Any, Any, Any, list[Any]]:
    key = jax.random.PRNGKey(0)
    sizes = [64] + [64] * (layers - 1) + [10] if layers > 2 else [64, 32, 10]
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        key, sub = jax.random.split(key)
        params.append(
            {"w": jax.random.normal(sub, (fan_in, fan_out)) / fan_in**0.5, "b": jnp.zeros(fan_out)}
        )
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=START_LR)

    def loss_fn(p: Any, x: Any, y: Any) -> Any:
        for layer in p[:-1]:
            x = jax.nn.relu(x @ layer["w"] + layer["b"])
        logits = x @ p[-1]["w"] + p[-1]["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p: Any, s: Any, batch: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(p, *batch)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    rng = np.random.default_rng(0)
    data = [(rng.normal(size=(16, 64)).astype("float32"), rng.integers(0, 10, 16))]
    return step, params, tx.init(params), data * STEPS


def plain(step: Any, params: Any, state: Any, data: list[Any], *, to: Any = np.asarray) -> None:
    ratio = (END_LR / START_LR) ** (1 / (STEPS - 1))
    for i, batch in enumerate(data):
        state.hyperparams["learning_rate"] = to(START_LR * ratio**i, dtype=np.float32)
        params, state, loss = step(params, state, batch)
        float(loss)


def plain_jnp(step: Any, params: Any, state: Any, data: list[Any]) -> None:
    plain(step, params, state, data, to=jnp.asarray)


def finder(step: Any, params: Any, state: Any, data: list[Any], *, defer: bool = True) -> None:
    result = lrfinder.optax.find_lr(
        step,
        params,
        state,
        data,
        start_lr=START_LR,
        end_lr=END_LR,
        num_steps=STEPS,
        diverge_threshold=None,
        progress=False,
        defer_loss=defer,
    )
    assert result.steps == STEPS


def finder_at_once(step: Any, params: Any, state: Any, data: list[Any]) -> None:
    finder(step, params, state, data, defer=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"{STEPS} steps, Adam; wall time, median of {args.rounds} interleaved rounds.\n")
    print(
        "| model | state leaves | plain loop (us a step) | plain loop, jnp.asarray rate "
        "(us a step) | find_lr, defer_loss=False (us a step) | find_lr (us a step) | "
        "ratio to the plain loop: defer_loss=False | find_lr |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, layers in (("tiny MLP 64-32-10", 2), ("48-layer MLP", 48)):
        step, params, state, data = problem(layers)
        tools = {
            "plain": plain,
            "plain_jnp": plain_jnp,
            "at_once": finder_at_once,
            "finder": finder,
        }
        for fn in tools.values():
            fn(step, params, jax.tree.map(jnp.array, state), data)
        times: dict[str, list[float]] = {k: [] for k in tools}
        for r in range(args.rounds):
            for k in list(tools)[r % len(tools) :] + list(tools)[: r % len(tools)]:
                fresh = jax.tree.map(jnp.array, state)
                started = time.perf_counter()
                tools[k](step, params, fresh, data)
                times[k].append(time.perf_counter() - started)
        a, j, c, b = (statistics.median(times[k]) for k in tools)
        leaves = len(jax.tree.leaves(state))
        print(
            f"| {name} | {leaves} | {a / STEPS * 1e6:.0f} | {j / STEPS * 1e6:.0f} | "
            f"{c / STEPS * 1e6:.0f} | {b / STEPS * 1e6:.0f} | {c / a:.3f} | {b / a:.3f} |"
        )


if __name__ == "__main__":
    main()
