"""lrfinder.optax.apply and Suggestion.apply on an inject_hyperparams state: a new state out.

These run in the JAX pass of ``make test`` (KERAS_BACKEND=jax), so the main run never starts JAX.
"""

from __future__ import annotations

import doctest

import pytest

from _jax_pass import skip_outside_jax_pass

skip_outside_jax_pass()
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402

import lrfinder.optax  # noqa: E402
from lrfinder import LRFinderError, Suggestion  # noqa: E402


def _suggestion(lr: float) -> Suggestion:
    return Suggestion(lr=lr, index=0, method="fall", reason="test", low=lr, high=lr)


def test_a_suggestion_returns_the_state_with_its_rate() -> None:
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    new = _suggestion(0.25).apply(state)
    assert float(new.hyperparams["learning_rate"]) == pytest.approx(0.25)
    assert new.hyperparams["learning_rate"].dtype == state.hyperparams["learning_rate"].dtype
    assert float(state.hyperparams["learning_rate"]) == 1.0  # the old state is untouched
    # the rate that trains: one SGD step moves w by lr x grad
    grads = {"w": jnp.full(3, 2.0)}
    updates, _ = tx.update(grads, new, params)
    assert jnp.allclose(optax.apply_updates(params, updates)["w"], 1.0 - 0.25 * 2.0)


def test_several_injected_rates_keep_their_ratios() -> None:
    tx = optax.multi_transform(
        {
            "head": optax.inject_hyperparams(optax.sgd)(learning_rate=1e-2),
            "body": optax.inject_hyperparams(optax.sgd)(learning_rate=1e-3),
        },
        {"a": "head", "b": "body"},
    )
    state = tx.init({"a": jnp.ones(2), "b": jnp.ones(2)})
    new = lrfinder.optax.apply(state, 0.1)
    # The first injected rate in the state's tree order ("body": dict keys sort) gets 0.1.
    rates = [float(v) for v in lrfinder.optax._find._rates(new, "learning_rate")]
    assert rates == pytest.approx([0.1, 1.0])


def test_a_state_without_an_injected_rate_is_refused() -> None:
    state = optax.sgd(0.1).init({"w": jnp.ones(2)})
    with pytest.raises(
        LRFinderError, match=r"holds no injected 'learning_rate'.*inject_hyperparams"
    ):
        lrfinder.optax.apply(state, 0.1)


def test_apply_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.optax._apply, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
