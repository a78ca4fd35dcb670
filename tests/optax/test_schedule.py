"""optax_schedule: the table traces under jax.jit and optax applies exactly the scheduled rate.

These run in the JAX pass of ``make test`` (``KERAS_BACKEND=jax pytest tests/test_optax_schedule.py
tests/test_keras_schedule.py``), a process of its own, so the main run never starts JAX.
"""

from __future__ import annotations

import numpy as np
import pytest

from _jax_pass import skip_outside_jax_pass
from lrfinder import LRFinderError, schedules

skip_outside_jax_pass()
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from lrfinder.optax._schedule import optax_schedule  # noqa: E402

STEPS = 500
SCHEDULE = schedules.cyclic(1e-3, 0.1, step_size=60, mode="exp_range", gamma=0.999)


def float_table(schedule: schedules.Schedule, steps: int, scale: float = 1.0) -> np.ndarray:
    dtype = jnp.result_type(float)  # float32 unless jax runs in 64-bit mode
    return (schedules.tabulate(schedule, steps) * scale).astype(dtype)


def test_values_under_jit_and_past_the_end() -> None:
    lr = optax_schedule(SCHEDULE, steps=STEPS)
    got = np.asarray(jax.jit(jax.vmap(lr))(jnp.arange(STEPS + 10)))
    want = float_table(SCHEDULE, STEPS)
    np.testing.assert_array_equal(got[:STEPS], want)
    np.testing.assert_array_equal(got[STEPS:], want[-1])


def test_optax_applies_the_scheduled_rate_each_step() -> None:
    lr = optax_schedule(SCHEDULE, steps=STEPS, scale=0.5)
    optimizer = optax.sgd(learning_rate=lr)
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)

    @jax.jit
    def step(state):  # type: ignore[no-untyped-def]
        updates, state = optimizer.update({"w": jnp.ones(())}, state, params)
        return updates["w"], state

    applied = []
    for _ in range(STEPS):
        update, state = step(state)
        applied.append(-float(update))
    np.testing.assert_array_equal(applied, float_table(SCHEDULE, STEPS, scale=0.5))


def test_bad_arguments() -> None:
    with pytest.raises(LRFinderError, match=r"Received: steps=0"):
        optax_schedule(SCHEDULE, steps=0)
    with pytest.raises(LRFinderError, match=r"`scale` must be a finite number above 0"):
        optax_schedule(SCHEDULE, steps=10, scale=0.0)


def test_docstring_example() -> None:
    import doctest

    import lrfinder.optax._schedule

    failed, attempted = doctest.testmod(lrfinder.optax._schedule)
    assert failed == 0 and attempted > 0
