"""Setting the optimizer's rate before each batch of ``fit``, for lrfinder's Keras callbacks.

On most backends this is one assignment. On JAX, ``fit`` keeps the model's state inside its jitted
loop and writes it back to the variables only at the end of an epoch; a callback that touches the
model mid-epoch makes ``fit`` write every variable back and read them all again, which costs more
than a small model's whole step (measured in ``benchmarks/keras_overhead.py``). So where the JAX
trainer allows it, :class:`_JaxRates` hands ``fit`` the last step's state with only the rate, and
the metrics' reset values, replaced: the same numbers ``fit`` would have read back, without the
round trip through the variables. Another callback that reads the model after it (through
``Callback.model``, which syncs) gets the ordinary round trip, with the new rate in the variables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

# The JAX trainer's methods that _JaxRates stands in for on the model.
_HOOKS = ("_get_jax_state", "jax_state_sync")
# What fit's JAX loop asks _get_jax_state for before a batch once a callback has synced.
_FIT_READS = ("trainable_variables", "non_trainable_variables", "optimizer_variables")


def host(value: Any) -> np.ndarray:
    """A host copy (never a view) of a tensor or Variable, without numpy 2's __array__ warning."""
    if isinstance(value, float | int):  # what fit's logs hold once Keras has read them
        return np.array(value)
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # torch, whose __array__ also lacks numpy 2's `copy` keyword
        return np.array(value.detach().cpu().numpy())
    return np.array(keras.ops.convert_to_numpy(value))


class Rates:
    """Sets the rate (and resets the metrics) before a batch, and reads the step count after it,
    through the model's variables: what any callback does."""

    # Whether fit launches the next step before the last one's results are read, so that a
    # loss read one batch late costs no wait.
    deferrable = False

    def __init__(self, model: keras.Model) -> None:
        self.model = model

    def _synced(self) -> keras.Model:
        model = self.model
        if hasattr(model, "jax_state_sync"):  # what Callback.model does on JAX
            model.jax_state_sync()
        return model

    def set(self, rate: float, *, reset_metrics: bool = False) -> None:
        model = self._synced()
        if reset_metrics:
            model.reset_metrics()
        model.optimizer.learning_rate = rate

    def iterations(self) -> int:
        return int(host(self._synced().optimizer.iterations))


class _JaxRates(Rates):
    """:class:`Rates` for JAX's ``fit``, without writing its state back every batch."""

    deferrable = True  # JAX dispatches each step asynchronously

    def __init__(self, model: keras.Model) -> None:
        super().__init__(model)
        optimizer = model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        at = {id(v): i for i, v in enumerate(optimizer.variables)}
        # A KeyError here: not the trainer this was written for; rate_setter() falls back.
        self._rate_at = at[id(inner._learning_rate)]
        self._iterations_at = at[id(optimizer.iterations)]
        self._rate_dtype = inner._learning_rate.dtype
        self._reset: list[np.ndarray] | None = None  # the metrics' values just after a reset
        self._pending: tuple[np.ndarray, bool] | None = None
        self._read, self._write = model._get_jax_state, model.jax_state_sync
        # Instance attributes over the trainer's methods (or over another _JaxRates's, when a
        # find_lr runs inside a fit whose schedule has one), set past Keras's attribute tracking.
        self._over = {name: model.__dict__.get(name) for name in _HOOKS}
        object.__setattr__(model, "_get_jax_state", self._state)
        object.__setattr__(model, "jax_state_sync", self._sync)

    def close(self) -> None:
        for name, method in zip(_HOOKS, (self._state, self._sync), strict=True):
            if self.model.__dict__.get(name) == method:
                if self._over[name] is None:
                    object.__delattr__(self.model, name)
                else:
                    object.__setattr__(self.model, name, self._over[name])

    def _sync(self) -> None:
        """``jax_state_sync``, for a callback that reads the model after :meth:`set`: fit's state
        goes back into the variables, then what ``set`` left pending goes in the ordinary way."""
        if self._pending is None:
            self._write()
            return
        (rate, reset), self._pending = self._pending, None
        object.__setattr__(self.model, "_jax_state_synced", False)
        self._write()
        super().set(float(rate), reset_metrics=reset)

    def _mid_epoch(self) -> bool:
        """Whether fit holds the state (the variables are empty) rather than the variables."""
        model = self.model
        return getattr(model, "_jax_state", None) is not None and not model._jax_state_synced

    def set(self, rate: float, *, reset_metrics: bool = False) -> None:
        first_reset = reset_metrics and self._reset is None
        # Between epochs fit reads the variables anyway; the first reset, the ordinary way, tells
        # the metrics' values after one.
        if not self._mid_epoch() or first_reset:
            super().set(rate, reset_metrics=reset_metrics)
            if first_reset:
                self._reset = [host(v) for v in self.model.metrics_variables]
            return
        self._pending = (np.asarray(rate, dtype=self._rate_dtype), reset_metrics)
        # fit asks _state for the next batch's state (a plain flag: past the tracking, as above)
        object.__setattr__(self.model, "_jax_state_synced", True)

    def _state(self, **which: bool) -> Any:
        state = getattr(self.model, "_jax_state", None)
        if self._pending is None or state is None or not all(map(which.get, _FIT_READS)):
            return self._read(**which)
        (rate, reset), self._pending = self._pending, None
        # Plain lists: Keras's attribute tracking turned those of _jax_state into TrackedLists,
        # which jit does not take.
        state = {name: list(value) for name, value in state.items()}
        state["optimizer_variables"][self._rate_at] = rate
        if reset and self._reset is not None:  # set() pends a reset only once it is known
            state["metrics_variables"] = self._reset
        parts = [state[name] for name in _FIT_READS]
        if which.get("metrics_variables"):
            parts.append(state["metrics_variables"])
        return tuple(parts)

    def iterations(self) -> int:
        if not self._mid_epoch():
            return super().iterations()
        return int(self.model._jax_state["optimizer_variables"][self._iterations_at])


@contextlib.contextmanager
def rate_setter(model: keras.Model) -> Iterator[Rates]:
    """The fastest :class:`Rates` this backend allows for a ``fit``.

    On JAX without a distribution (sharded state wants its own placement) and with a trainer that
    has the hooks :class:`_JaxRates` uses; otherwise the ordinary one.
    """
    setter: Rates = Rates(model)
    if (
        keras.config.backend() == "jax"
        and keras.distribution.distribution() is None
        and callable(getattr(model, "_get_jax_state", None))
        and hasattr(model, "_jax_state_synced")
    ):
        with contextlib.suppress(AttributeError, KeyError):
            setter = _JaxRates(model)
    try:
        yield setter
    finally:
        if isinstance(setter, _JaxRates):
            setter.close()
