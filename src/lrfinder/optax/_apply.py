"""Set a found rate in an Optax state from ``optax.inject_hyperparams``: a new state out."""

from __future__ import annotations

from typing import Any

import optax

from .._core._apply import rate_of, register_applier
from .._core._errors import LRFinderError
from .._core._rangetest import ratios_to_first
from ._find import RateWriter, _rates


@register_applier("optax")
def apply(opt_state: optax.OptState, lr: Any, *, hyperparam: str = "learning_rate") -> Any:
    """A copy of ``opt_state`` whose injected rate is ``lr`` (a rate, a
    :class:`lrfinder.Suggestion` or a ``TuneResult``).

    JAX state is immutable, so the new state is returned: ``opt_state = apply(opt_state, s)``.
    Each rate keeps its dtype, so a jitted step is not traced again. With several injected
    rates (``optax.multi_transform`` over ``inject_hyperparams`` optimizers), the first gets
    ``lr`` and the others keep their ratio to it, as the range test swept them.

    Examples:
        >>> import jax.numpy as jnp, optax, lrfinder.optax
        >>> tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
        >>> state = lrfinder.optax.apply(tx.init({"w": jnp.zeros(3)}), 0.01)
        >>> round(float(state.hyperparams["learning_rate"]), 6)
        0.01
    """
    rate = rate_of(lr)
    current = _rates(opt_state, hyperparam)
    if not current:
        raise LRFinderError(
            f"`opt_state` holds no injected {hyperparam!r}, so its rate cannot be set. "
            f"Received: {type(opt_state).__name__}. Build the optimizer as "
            f"optax.inject_hyperparams(optax.adam)({hyperparam}=1e-3) and pass its state."
        )
    ratios = ratios_to_first(current, what=f"injected {hyperparam!r}", name=hyperparam)
    return RateWriter(opt_state, hyperparam)(opt_state, [rate * r for r in ratios])
