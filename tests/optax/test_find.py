"""lrfinder.optax on a small MLP and digits data: losses, stops, untouched inputs, one trace.

These run in the JAX pass of ``make test``, a process of its own (KERAS_BACKEND=jax), so the main
run never starts JAX.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from _jax_pass import skip_outside_jax_pass

skip_outside_jax_pass()
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

import jax.numpy as jnp  # noqa: E402

import lrfinder.optax  # noqa: E402
from _mlp import batches as digits_batches  # noqa: E402
from _mlp import init_params, numpy_loss  # noqa: E402
from lrfinder import LRFinderError  # noqa: E402
from lrfinder.optax import find_lr  # noqa: E402


@pytest.fixture(scope="module")
def batches() -> list[tuple[np.ndarray, np.ndarray]]:
    return digits_batches(320)


def loss_fn(params, x, y):
    logits = jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def make_step(tx, traces: list[int] | None = None, **jit_kw):
    def train_step(params, opt_state, batch):
        if traces is not None:
            traces.append(1)  # runs only while jax traces the function
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(train_step, **jit_kw)


def run(tx, batches, traces=None, **kw):
    params = jax.tree.map(jnp.asarray, init_params())
    return find_lr(make_step(tx, traces), params, tx.init(params), batches, progress=False, **kw)


def test_each_recorded_loss_is_that_batch_loss_at_that_rate(batches) -> None:
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    jitted = make_step(tx)
    calls = []

    def spy(params, opt_state, batch):
        calls.append((params, opt_state, batch))
        return jitted(params, opt_state, batch)

    params = jax.tree.map(jnp.asarray, init_params())
    result = find_lr(
        spy, params, tx.init(params), batches, start_lr=1e-4, end_lr=10.0, num_steps=25,
        progress=False,
    )  # fmt: skip
    assert result.steps > len(batches)  # the batches were cycled
    assert len(calls) == result.steps + 1  # the loss that stopped it was read a step late
    assert result.stop_reason == "diverged"

    @jax.jit
    def adam_step(params, adam_state, x, y, lr):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, _ = optax.adam(lr).update(grads, adam_state, params)
        return optax.apply_updates(params, updates)

    # Each step's inputs checked independently: the loss in numpy, the rate it was given, and
    # the next parameters as one step of plain Adam (whose state does not hold the rate).
    for i, (lr, loss) in enumerate(zip(result.lrs, result.losses, strict=True)):
        params, opt_state, (x, y) = calls[i]
        assert y is batches[i % len(batches)][1]
        assert loss == pytest.approx(numpy_loss(params, x, y), rel=1e-5), i
        assert float(opt_state.hyperparams["learning_rate"]) == np.float32(lr)
        if i + 1 < len(calls):
            expected = adam_step(params, opt_state.inner_state, x, y, np.float32(lr))
            # Adam moves each weight by about lr at most: agree to 1e-5 of that step.
            following = jax.tree.leaves(calls[i + 1][0])
            for a, b in zip(jax.tree.leaves(expected), following, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * lr)
    assert result.settings["framework"] == "optax"


def test_the_jitted_step_is_traced_once_for_the_whole_sweep(batches) -> None:
    traces: list[int] = []
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    params = jax.tree.map(jnp.asarray, init_params())
    step = make_step(tx, traces)
    step(params, tx.init(params), batches[0])  # compiled for the user's own state first
    result = find_lr(
        step, params, tx.init(params), batches, start_lr=1e-5, end_lr=1.0, num_steps=30,
        progress=False,
    )  # fmt: skip
    assert result.steps == 30
    assert len(set(result.lrs)) == 30
    assert len(traces) == 1


def test_stops_on_divergence_and_on_nan(batches) -> None:
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    diverged = run(tx, batches, start_lr=1e-3, end_lr=1e5, num_steps=100)
    assert diverged.stop_reason == "diverged"
    assert diverged.steps < 100
    poisoned = [(x.copy(), y) for x, y in batches]
    poisoned[3][0][5, 0] = np.nan
    nan = run(tx, poisoned, num_steps=50)
    assert nan.stop_reason == "nonfinite"
    assert nan.steps == 4
    assert np.isnan(nan.losses[-1])


def _counted(tx):
    jitted, calls = make_step(tx), []

    def step(params, opt_state, batch):
        calls.append(1)
        return jitted(params, opt_state, batch)

    return step, calls


@pytest.mark.parametrize(
    ("poison", "sweep", "stop"),
    [
        (False, {"num_steps": 40}, "completed"),
        (False, {"start_lr": 1e-3, "end_lr": 1e5, "num_steps": 100}, "diverged"),
        (True, {"num_steps": 50}, "nonfinite"),
    ],
)
def test_a_loss_read_one_step_late_records_the_same_curve(batches, poison, sweep, stop) -> None:
    if poison:
        batches = [(x.copy(), y) for x, y in batches]
        batches[3][0][5, 0] = np.nan
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    params = jax.tree.map(jnp.asarray, init_params())
    results, counts = [], []
    for defer in (False, True):
        step, calls = _counted(tx)
        results.append(
            find_lr(step, params, tx.init(params), batches, progress=False, defer_loss=defer,
                    **sweep)
        )  # fmt: skip
        counts.append(len(calls))
    immediate, deferred = results
    assert deferred.stop_reason == immediate.stop_reason == stop
    np.testing.assert_array_equal(deferred.lrs, immediate.lrs)
    np.testing.assert_array_equal(deferred.losses, immediate.losses)
    assert deferred.settings == immediate.settings
    # An early stop is read one step late: one step was trained past it (and dropped); a
    # completed sweep launches nothing past its last step.
    assert counts == [immediate.steps, immediate.steps + (stop != "completed")]


def test_params_and_opt_state_come_back_untouched_even_when_donated(batches) -> None:
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    params = jax.tree.map(jnp.asarray, init_params())
    opt_state = tx.init(params)
    before = jax.tree.map(np.array, (params, opt_state))
    step = make_step(tx, donate_argnums=(0, 1))
    find_lr(step, params, opt_state, batches, num_steps=10, progress=False)
    after = jax.tree.map(np.array, (params, opt_state))  # raises if a buffer was donated away
    jax.tree.map(np.testing.assert_array_equal, before, after)


def test_several_injected_rates_keep_their_ratio(batches) -> None:
    tx = optax.multi_transform(
        {
            "hidden": optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
            "head": optax.inject_hyperparams(optax.sgd)(learning_rate=0.01),
        },
        {"w1": "hidden", "b1": "hidden", "w2": "head", "b2": "head"},
    )
    result = run(tx, batches, start_lr=1e-4, end_lr=1.0, num_steps=10)
    # Flattened in key order: "head" (0.01) comes first and sets the swept rate.
    head, hidden = result.settings["base_lrs"]
    assert head == pytest.approx(0.01) and hidden == pytest.approx(0.1)
    np.testing.assert_allclose(result.group_lrs[:, 1] / result.group_lrs[:, 0], hidden / head)


def test_a_scheduled_rate_is_refused(batches) -> None:
    schedule = optax.linear_schedule(1e-3, 1e-2, transition_steps=10)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=schedule)
    with pytest.raises(LRFinderError, match="schedule inside inject_hyperparams"):
        run(tx, batches, num_steps=5)


def test_bad_inputs_are_refused(batches) -> None:
    params = jax.tree.map(jnp.asarray, init_params())
    plain = optax.adam(1e-3)
    with pytest.raises(LRFinderError, match=r"optax\.inject_hyperparams"):
        find_lr(make_step(plain), params, plain.init(params), batches, progress=False)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)
    with pytest.raises(LRFinderError, match=r"must be above 0\. Received: learning_rate=0\.0"):
        find_lr(make_step(tx), params, tx.init(params), batches, progress=False)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    with pytest.raises(LRFinderError, match="must be a callable"):
        find_lr("step", params, tx.init(params), batches, progress=False)  # type: ignore[arg-type]
    with pytest.raises(LRFinderError, match=r"must return \(params, opt_state, loss\)"):
        find_lr(lambda p, s, b: (p, s), params, tx.init(params), batches, progress=False)
    with pytest.raises(LRFinderError, match=r"must be a scalar. Received shape \(32,\)"):
        find_lr(lambda p, s, b: (p, s, jnp.ones(32)), params, tx.init(params), batches)


def test_a_one_shot_iterator_ends_the_test_when_it_runs_out(batches) -> None:
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    params = jax.tree.map(jnp.asarray, init_params())
    step = make_step(tx)
    result = find_lr(step, params, tx.init(params), iter(batches[:4]), progress=False)
    assert result.steps == 4
    assert result.stop_reason == "data_exhausted"


def test_docstring_example() -> None:
    failed, attempted = doctest.testmod(lrfinder.optax, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0


def _tiny():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    params = {"w": jnp.zeros(3)}

    def step(p, s, b):
        loss, g = jax.value_and_grad(lambda p: ((p["w"] - b) ** 2).sum())(p)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    return jax.jit(step), params, tx.init(params), [jnp.ones(3)] * 10


# Every argument of find_lr, a bad value, and the start of its message.
BAD_FIND_ARGUMENTS = [
    ("train_step", None, r"`train_step` must be a callable \(params, opt_state, batch\)"),
    ("params", None, r"`params` must be a pytree holding the parameters' arrays"),
    ("params", {}, r"`params` must be a pytree .* Received: \{\}"),
    ("opt_state", None, r"`opt_state` holds no injected 'learning_rate'.*Received: NoneType"),
    ("batches", 5, r"`batches` must be an iterable of batches .* Received: int"),
    ("hyperparam", 5, r"`hyperparam` must be the name .* Received: hyperparam=5"),
    ("hyperparam", "lr", r"`opt_state` holds no injected 'lr'"),
    ("progress", "yes", r"`progress` must be True or False. Received: progress='yes'"),
    ("defer_loss", 1, r"`defer_loss` must be True or False. Received: defer_loss=1"),
    ("start_lr", -1.0, r"start_lr"),
    ("end_lr", "x", r"end_lr"),
    ("num_steps", 0, r"`num_steps` must be an integer of at least 2"),
    ("mode", "EXP", r"mode"),
    ("diverge_threshold", 0.5, r"`diverge_threshold` must be a number above 1"),
    ("smooth_beta", 1.0, r"`smooth_beta` must be in \[0, 1\)"),
    ("num_step", 5, r"Unknown option 'num_step'"),
]


@pytest.mark.parametrize(("name", "value", "match"), BAD_FIND_ARGUMENTS)
def test_every_argument_is_checked_before_the_first_step(name, value, match) -> None:
    step, params, opt_state, data = _tiny()
    calls = []

    def counting(p, s, b):
        calls.append(1)
        return step(p, s, b)

    arguments = {"train_step": counting, "params": params, "opt_state": opt_state}
    arguments.update(batches=data, progress=False)
    arguments[name] = value
    with pytest.raises(LRFinderError, match=match):
        find_lr(**arguments)
    assert calls == []


def test_the_global_python_and_numpy_random_states_come_back() -> None:
    import random

    step, params, opt_state, _ = _tiny()

    def shuffled():  # batches drawn from the global RNGs, as many input pipelines do
        while True:
            yield jnp.asarray(np.random.permutation(3) + random.random(), dtype=jnp.float32)  # noqa: NPY002

    random.seed(3)
    np.random.seed(4)  # noqa: NPY002
    python, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    find_lr(step, params, opt_state, shuffled(), num_steps=10, progress=False)
    assert random.getstate() == python
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002
    assert np.random.get_state()[2] == numpy_state[2]  # noqa: NPY002


def _states():
    params = jax.tree.map(jnp.asarray, init_params())
    single = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    chained = optax.chain(
        optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    )
    several = optax.multi_transform(
        {
            "hidden": optax.inject_hyperparams(optax.adamw)(learning_rate=0.1),
            "head": optax.inject_hyperparams(optax.sgd)(learning_rate=0.01),
        },
        {"w1": "hidden", "b1": "hidden", "w2": "head", "b2": "head"},
    )
    return {
        name: tx.init(params)
        for name, tx in {"single": single, "chained": chained, "several": several}.items()
    }


@pytest.mark.parametrize("name", ["single", "chained", "several"])
def test_the_rate_writer_rebuilds_only_the_path_to_each_rate(name: str) -> None:
    from lrfinder.optax._find import RateWriter, _rates, _with_rates_everywhere

    state = _states()[name]
    write = RateWriter(state, "learning_rate")
    assert write.direct
    rates = [0.5 * (i + 1) for i in range(len(write.paths))]
    new = write(state, rates)
    everywhere = _with_rates_everywhere(state, "learning_rate", rates, jnp.asarray)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    jax.tree.map(np.testing.assert_array_equal, new, everywhere)
    assert [leaf.dtype for leaf in jax.tree.leaves(new)] == [
        leaf.dtype for leaf in jax.tree.leaves(state)
    ]
    assert _rates(new, "learning_rate") == pytest.approx(rates)
    assert _rates(state, "learning_rate") != _rates(new, "learning_rate")  # state untouched
    # The optimizer's moments are the very same arrays: nothing beside the path was rebuilt.
    old_leaves = {id(leaf) for leaf in jax.tree.leaves(state)}
    new_leaves = [leaf for leaf in jax.tree.leaves(new)]
    assert sum(id(leaf) not in old_leaves for leaf in new_leaves) == len(rates)
    if name == "single":
        assert new.inner_state is state.inner_state


@pytest.mark.parametrize("name", ["single", "chained", "several"])
def test_the_rate_writer_writes_into_a_state_of_its_own_in_place(name: str) -> None:
    from lrfinder.optax._find import RateWriter, _rates

    state = _states()[name]
    before = _rates(state, "learning_rate")
    own = jax.tree.map(lambda leaf: leaf, state)  # new nodes, as find_lr's copy has
    write = RateWriter(state, "learning_rate")
    rates = [0.5 * (i + 1) for i in range(len(write.paths))]
    written = write.into(own, rates)
    assert written is own  # each rate sits in inject_hyperparams' dict: set there
    assert _rates(own, "learning_rate") == pytest.approx(rates)
    assert _rates(state, "learning_rate") == before  # the state it was copied from: untouched
    assert jax.tree.structure(written) == jax.tree.structure(state)
    assert [np.dtype(leaf.dtype) for leaf in jax.tree.leaves(written)] == [
        np.dtype(leaf.dtype) for leaf in jax.tree.leaves(state)
    ]


def test_the_rate_writer_falls_back_to_every_leaf_for_nodes_it_cannot_rebuild() -> None:
    from lrfinder.optax._find import RateWriter, _rates

    class Box:  # a pytree node with keys, but no _replace and not a dataclass
        def __init__(self, inner):
            self.inner = inner

    jax.tree_util.register_pytree_with_keys(
        Box,
        lambda b: (((jax.tree_util.GetAttrKey("inner"), b.inner),), None),
        lambda _, children: Box(*children),
    )
    state = Box(_states()["single"])
    write = RateWriter(state, "learning_rate")
    assert not write.direct
    assert _rates(write(state, [0.25]), "learning_rate") == pytest.approx([0.25])
    assert _rates(write.into(state, [0.5]), "learning_rate") == pytest.approx([0.5])
    assert _rates(state, "learning_rate") == pytest.approx([1e-3])  # rebuilt, not written into
