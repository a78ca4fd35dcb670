"""lrfinder.optax.tune_lr: the race on held-out loss with one trace of the user's jitted step.

These run in the JAX pass of ``make test`` (KERAS_BACKEND=jax), a process of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _jax_pass import skip_outside_jax_pass

skip_outside_jax_pass()
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("sklearn.datasets")

import jax.numpy as jnp  # noqa: E402

import lrfinder.optax  # noqa: E402
from _mlp import batches as digits_batches  # noqa: E402
from _mlp import init_params  # noqa: E402
from lrfinder import LRFinderError, NoSuggestionError, TuneResult  # noqa: E402

TOTAL = 30


def loss_fn(params, x, y):
    logits = jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@pytest.fixture(scope="module")
def data():
    batches = digits_batches(640)
    return batches[:16], batches[16:]


def held_out(val):
    """The jitted mean loss over the held-out batches: the race's score."""
    return jax.jit(lambda p: jnp.mean(jnp.stack([loss_fn(p, x, y) for x, y in val])))


def setup(traces: list[int]):
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)

    def train_step(params, opt_state, batch):
        traces.append(1)  # runs only while jax traces the function
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = jax.tree.map(jnp.asarray, init_params())
    return jax.jit(train_step), params, tx.init(params)


def test_the_race_traces_once_leaves_the_inputs_and_scores_on_held_out_loss(data) -> None:
    train, val = data
    traces: list[int] = []
    step, params, opt_state = setup(traces)
    before = jax.tree.map(np.asarray, (params, opt_state))
    evaluate = held_out(val)
    tuned = lrfinder.optax.tune_lr(
        step,
        params,
        opt_state,
        train,
        eval_fn=evaluate,
        total_steps=TOTAL,
        start_lr=1e-5,
        end_lr=10,
        num_steps=60,
        progress=False,
    )
    assert isinstance(tuned, TuneResult) and tuned.settings["framework"] == "optax"
    assert len(traces) == 1  # the range test and every trial ran the same compiled step
    assert tuned.steps_spent == tuned.range_test.steps + tuned.trial_steps
    jax.tree.map(
        np.testing.assert_array_equal, before, jax.tree.map(np.asarray, (params, opt_state))
    )
    final = tuned.rounds[-1]
    finite = [x for x in final.losses if np.isfinite(x)]
    assert final.losses[tuned.rates.index(tuned.lr)] == min(finite)


def test_each_score_is_training_that_rate_from_the_same_start(data) -> None:
    train, val = data
    step, params, opt_state = setup([])
    evaluate = lambda p: float(np.mean([loss_fn(p, x, y) for x, y in val]))  # noqa: E731
    tuned = lrfinder.optax.tune_lr(
        step,
        params,
        opt_state,
        train,
        eval_fn=evaluate,
        total_steps=TOTAL,
        rates=[1e-3, 1e-2],
        rounds=[(2, 1.0)],
        for_schedule="cosine",
        progress=False,
    )
    for lr, score in zip(tuned.rates, tuned.rounds[0].losses, strict=True):
        schedule = lrfinder.schedules.cosine_annealing(lr, T_max=TOTAL)
        p, s = params, opt_state
        for i in range(TOTAL):
            s.hyperparams["learning_rate"] = jnp.asarray(schedule(i), dtype=jnp.float32)
            p, s, _ = step(p, s, train[i % len(train)])
        assert score == pytest.approx(evaluate(p), rel=1e-5)


@pytest.mark.parametrize(
    ("donate", "schedule"),
    [
        (False, {}),
        (True, {}),
        (False, {"for_schedule": "one_cycle"}),  # truncated, the default
    ],
    ids=["constant", "constant-donating", "truncated-one-cycle"],
)
def test_a_finalist_goes_on_from_its_last_round(data, donate, schedule) -> None:
    train, val = data
    step, params, opt_state = setup([])
    if donate:  # a step that donates its inputs: a resumed round hands it the kept state
        step = jax.jit(step.__wrapped__, donate_argnums=(0, 1))
    evaluate = held_out(val)
    runs: dict[bool, Any] = {}
    for resume in (True, False):  # starting over, the same rounds as going on
        rounds = runs[True].settings["rounds"] if runs else None
        runs[resume] = lrfinder.optax.tune_lr(
            step,
            params,
            opt_state,
            train * 2,
            eval_fn=evaluate,
            total_steps=2 * TOTAL,
            rates=[1e-4, 1e-3, 3e-3, 1e-2, 1e-1],
            resume=resume,
            rounds=rounds,
            progress=False,
            **schedule,
        )
    resumed, plain = runs[True], runs[False]
    counts = [count for count, _ in resumed.settings["rounds"]]
    assert counts == ([5, 2] if schedule else [5, 3, 2])  # a constant rate: a middle round
    # nothing is kept, so a truncated one-cycle's finalists stop at nine tenths
    assert resumed.settings["rounds"][-1][1] == (0.9 if schedule else 1.0)
    assert resumed.settings["shorten"] == "truncate"
    assert [r.resumed for r in resumed.rounds] == [False] + [True] * (len(counts) - 1)
    assert [r.losses for r in resumed.rounds] == [r.losses for r in plain.rounds]
    assert resumed.lr == plain.lr
    saved = sum(c * r.steps for c, r in zip(counts[1:], resumed.rounds, strict=False))
    assert plain.trial_steps - resumed.trial_steps == saved


def test_a_diverging_trial_stops_one_step_after_its_first_nan(data) -> None:
    train, _val = data
    step, params, opt_state = setup([])
    poisoned = [(x.copy(), y) for x, y in train]
    poisoned[2][0][0, 0] = np.nan  # every trial's third step turns the loss NaN
    calls = []

    def counting(p, s, b):
        calls.append(1)
        return step(p, s, b)

    with pytest.raises(NoSuggestionError, match="Every candidate of round 1 diverged"):
        lrfinder.optax.tune_lr(
            counting, params, opt_state, poisoned, eval_fn=lambda p: 0.0, total_steps=TOTAL,
            rates=[1e-3, 1e-2], rounds=[(2, 1.0)], progress=False,
        )  # fmt: skip
    # Each trial read the NaN of its third step once the fourth was dispatched, then stopped.
    assert len(calls) == 2 * 4


def test_bad_arguments_are_refused(data) -> None:
    train, _ = data
    step, params, opt_state = setup([])
    with pytest.raises(LRFinderError, match=r"`eval_fn` must be a callable eval_fn\(params\)"):
        lrfinder.optax.tune_lr(step, params, opt_state, train, eval_fn=None, total_steps=5)
    with pytest.raises(LRFinderError, match=r"`batches` must be re-iterable"):
        lrfinder.optax.tune_lr(
            step, params, opt_state, iter(train), eval_fn=lambda p: 0.0, total_steps=5
        )


def test_an_empty_training_set_is_named() -> None:
    step, params, opt_state = setup([])
    with pytest.raises(LRFinderError, match=r"`batches` yielded no batch; pass at least one"):
        lrfinder.optax.tune_lr(
            step,
            params,
            opt_state,
            [],
            eval_fn=lambda p: 0.0,
            total_steps=5,
            rates=[1e-3, 1e-2],
            progress=False,
        )


BAD_TUNE_ARGUMENTS = [
    ("train_step", None, r"`train_step` must be a callable"),
    ("params", None, r"`params` must be a pytree holding the parameters' arrays"),
    ("opt_state", None, r"`opt_state` holds no injected 'learning_rate', so the race"),
    ("batches", 5, r"`batches` must be an iterable of batches"),
    ("batches", "one-shot", r"`batches` must be re-iterable"),
    ("eval_fn", None, r"`eval_fn` must be a callable eval_fn\(params\)"),
    ("total_steps", 0, r"`total_steps` must be an integer of at least 1"),
    (
        "for_schedule",
        "nope",
        r"`for_schedule` must be one of constant, one_cycle, cosine_annealing",
    ),
    ("result", "x", r"`result` must be a RangeTestResult .* Received: str"),
    ("rates", [1e-3], r"`rates` must be 2 or more finite rates above 0"),
    ("num", 1, r"`num` must be an integer of at least 2"),
    ("span", -1.0, r"`span` must be a finite number above 0"),
    ("rounds", "x", r"`rounds` must be \(count, fraction\) pairs"),
    ("hyperparam", 5, r"`hyperparam` must be the name"),
    ("progress", None, r"`progress` must be True or False"),
    ("resume", "yes", r"`resume` must be True or False. Received: resume='yes'"),
    ("shorten", "cut", r"`shorten` must be one of 'compress', 'truncate'"),
    ("num_steps", 1, r"`num_steps` must be an integer of at least 2"),
]


@pytest.mark.parametrize(("name", "value", "match"), BAD_TUNE_ARGUMENTS)
def test_every_argument_is_checked_before_anything_trains(data, name, value, match) -> None:
    train, _ = data
    step, params, opt_state = setup([])
    calls = []

    def counting(p, s, b):
        calls.append(1)
        return step(p, s, b)

    arguments = {"train_step": counting, "params": params, "opt_state": opt_state}
    arguments.update(batches=train, eval_fn=lambda p: 0.0, total_steps=5, progress=False)
    arguments[name] = iter(train) if value == "one-shot" else value
    with pytest.raises(LRFinderError, match=match):
        lrfinder.optax.tune_lr(**arguments)
    assert calls == []


def test_a_rate_added_past_an_edge_runs_the_same_traced_step(data) -> None:
    train, val = data
    traces: list[int] = []
    step, params, opt_state = setup(traces)
    before = jax.tree.map(np.asarray, (params, opt_state))
    evaluate = held_out(val)
    tuned = lrfinder.optax.tune_lr(
        step,
        params,
        opt_state,
        train,
        eval_fn=evaluate,
        total_steps=TOTAL,
        rates=[1e-7, 1e-6, 1e-5],  # far too low: the loss still falls toward the highest
        rounds=[(3, 1.0)],
        widen=1,
        progress=False,
    )
    assert tuned.rates == pytest.approx([1e-7, 1e-6, 1e-5, 1e-4], rel=1e-9)
    assert tuned.lr == tuned.rates[-1] and len(traces) == 1
    jax.tree.map(
        np.testing.assert_array_equal, before, jax.tree.map(np.asarray, (params, opt_state))
    )
