"""lrfinder schedules as optax schedules, traceable under ``jax.jit``.

optax calls a schedule on the optimizer's step count, a traced integer under ``jit``: a Python
schedule cannot run on it. The schedule's values are tabulated once and indexed by the clipped
count, which traces, and gives the same values as the Python schedule (in JAX's float precision).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from .._core._checks import check_count
from ..schedules._basic import Schedule, check_rate, tabulate


def optax_schedule(schedule: Schedule, *, steps: int, scale: float = 1.0) -> optax.Schedule:
    """An optax schedule with the values of ``schedule`` over ``steps`` steps.

    After the last step the final value holds. ``scale`` multiplies every value: with
    ``optax.multi_transform``, give each parameter group its own scale to keep the groups'
    ratios, as the range test did.

    Examples:
        >>> import optax
        >>> from lrfinder import schedules
        >>> from lrfinder.optax import optax_schedule
        >>> lr = optax_schedule(schedules.one_cycle(0.1, total_steps=1000), steps=1000)
        >>> optimizer = optax.sgd(learning_rate=lr, momentum=0.9)
    """
    steps = check_count("steps", steps)
    scale = check_rate("scale", scale, positive=True)
    # float32 unless jax runs in 64-bit mode, where the table keeps every bit of the schedule.
    table = jnp.asarray(tabulate(schedule, steps) * scale, dtype=jnp.result_type(float))
    last = steps - 1

    def lookup(count: Any) -> Any:
        return table[jnp.clip(count, 0, last)]

    return lookup
