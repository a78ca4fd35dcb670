"""find_lr for JAX/Optax: the sweep written into inject_hyperparams' state, traced once."""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Unpack

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._core._errors import LRFinderError
from .._core._find import Reader, cycle, drive, drive_deferred
from .._core._rangetest import RangeTest, SweepOptions, ratios_to_first, sweep_options
from .._core._result import RangeTestResult

TrainStep = Callable[[optax.Params, optax.OptState, Any], tuple[optax.Params, optax.OptState, Any]]
PathKey = Any


def _is_rate(path: Sequence[PathKey], name: str) -> bool:
    """Whether a leaf's path ends in ``.hyperparams[name]``, where inject_hyperparams keeps it."""
    return (
        len(path) >= 2
        and isinstance(path[-1], jax.tree_util.DictKey)
        and path[-1].key == name
        and isinstance(path[-2], jax.tree_util.GetAttrKey)
        and path[-2].name == "hyperparams"
    )


def _rates(opt_state: optax.OptState, name: str) -> list[float]:
    leaves = jax.tree_util.tree_leaves_with_path(opt_state)
    return [float(leaf) for path, leaf in leaves if _is_rate(path, name)]


def _with_rates_everywhere(
    opt_state: optax.OptState, name: str, rates: Sequence[float], to: Callable[..., Any]
) -> optax.OptState:
    """``opt_state`` with each injected rate replaced (made by ``to``, ``jnp.asarray`` or
    ``np.asarray``), through every leaf: for states whose path to a rate has a node that
    :func:`_replace_at` cannot rebuild."""
    values = iter(rates)

    def put(path: Sequence[PathKey], leaf: Any) -> Any:
        return to(next(values), dtype=leaf.dtype) if _is_rate(path, name) else leaf

    return jax.tree_util.tree_map_with_path(put, opt_state)


def _child(node: Any, key: PathKey) -> Any:
    if isinstance(key, jax.tree_util.GetAttrKey):
        return getattr(node, key.name)
    if isinstance(key, jax.tree_util.DictKey):
        return node[key.key]
    return node[key.idx]


def _replace_at(node: Any, path: Sequence[PathKey], value: Any) -> Any:
    """``node`` with the leaf at ``path`` replaced; only the nodes on the path are rebuilt, so
    the cost does not grow with the model (the parameters' trees sit beside the path)."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    new = _replace_at(_child(node, key), rest, value)
    if isinstance(key, jax.tree_util.GetAttrKey):
        if dataclasses.is_dataclass(node):
            return dataclasses.replace(node, **{key.name: new})  # type: ignore[type-var]
        return node._replace(**{key.name: new})
    if isinstance(key, jax.tree_util.DictKey):
        out = copy.copy(node)
        out[key.key] = new
        return out
    if hasattr(node, "_replace"):
        return node._replace(**{node._fields[key.idx]: new})
    items = list(node)
    items[key.idx] = new
    return type(node)(items)


def _rebuildable(opt_state: optax.OptState, path: Sequence[PathKey]) -> bool:
    """Whether :func:`_replace_at` can rebuild every node on ``path`` as it was."""
    node = opt_state
    for key in path:
        if isinstance(key, jax.tree_util.GetAttrKey):
            if not (dataclasses.is_dataclass(node) or hasattr(node, "_replace")):
                return False
        elif isinstance(key, jax.tree_util.DictKey):
            if not isinstance(node, dict):
                return False
        elif isinstance(key, jax.tree_util.SequenceKey):
            if not (type(node) in (tuple, list) or hasattr(node, "_replace")):
                return False
        else:
            return False
        node = _child(node, key)
    return True


class RateWriter:
    """Writes the sweep's rates into an ``inject_hyperparams`` state, keeping each one's dtype
    (no retrace). The rates' paths are found once; each write rebuilds only the nodes on them,
    not every leaf of the state."""

    def __init__(self, opt_state: optax.OptState, name: str) -> None:
        leaves = jax.tree_util.tree_leaves_with_path(opt_state)
        self.name = name
        self.paths = [tuple(path) for path, _ in leaves if _is_rate(path, name)]
        self.dtypes = [leaf.dtype for path, leaf in leaves if _is_rate(path, name)]
        self.direct = all(_rebuildable(opt_state, path) for path in self.paths)

    def __call__(self, opt_state: optax.OptState, rates: Sequence[float]) -> optax.OptState:
        """A new state with ``rates`` (jax arrays); ``opt_state`` is left as it was."""
        if not self.direct:
            return _with_rates_everywhere(opt_state, self.name, rates, jnp.asarray)
        for path, dtype, rate in zip(self.paths, self.dtypes, rates, strict=True):
            opt_state = _replace_at(opt_state, path, jnp.asarray(rate, dtype=dtype))
        return opt_state

    def into(self, opt_state: optax.OptState, rates: Sequence[float]) -> optax.OptState:
        """``rates`` written into a state lrfinder owns (its copy of the caller's, or one a
        step returned), for the next step: in place where a rate sits in a dict, and as 0-d
        numpy arrays, which a jitted step takes as it takes jax arrays of that dtype (no
        retrace). On a CPU this costs a few microseconds a step, against about 35 for new jax
        arrays in rebuilt nodes (``jnp.asarray`` on the host, and a jitted call on containers
        it has not seen)."""
        if not self.direct:
            return _with_rates_everywhere(opt_state, self.name, rates, np.asarray)
        for path, dtype, rate in zip(self.paths, self.dtypes, rates, strict=True):
            value = np.asarray(rate, dtype=dtype)
            parent = opt_state
            for key in path[:-1]:
                parent = _child(parent, key)
            if type(parent) is dict and isinstance(path[-1], jax.tree_util.DictKey):
                parent[path[-1].key] = value
            else:
                opt_state = _replace_at(opt_state, path, value)
        return opt_state


def _copy(leaf: Any) -> Any:
    return leaf.copy() if isinstance(leaf, jax.Array) else leaf


def check_inputs(
    train_step: Any, params: Any, batches: Any, hyperparam: Any, progress: Any
) -> None:
    """The checks find_lr and tune_lr share, made before anything is traced or trained."""
    if not callable(train_step):
        raise LRFinderError(
            "`train_step` must be a callable (params, opt_state, batch) -> (params, opt_state, "
            f"loss). Received: {type(train_step).__name__}"
        )
    if not jax.tree.leaves(params):
        raise LRFinderError(
            "`params` must be a pytree holding the parameters' arrays (e.g. a dict of "
            f"jax.Array). Received: {params!r:.80}"
        )
    if not isinstance(batches, Iterable):
        raise LRFinderError(
            "`batches` must be an iterable of batches (a list, a generator, a loader). "
            f"Received: {type(batches).__name__}"
        )
    if not isinstance(hyperparam, str) or not hyperparam:
        raise LRFinderError(
            "`hyperparam` must be the name of the injected hyper-parameter to sweep, e.g. "
            f"'learning_rate'. Received: hyperparam={hyperparam!r}"
        )
    if not isinstance(progress, bool):
        raise LRFinderError(f"`progress` must be True or False. Received: progress={progress!r}")


def find_lr(
    train_step: TrainStep,
    params: optax.Params,
    opt_state: optax.OptState,
    batches: Iterable[Any],
    *,
    hyperparam: str = "learning_rate",
    progress: bool = True,
    defer_loss: bool = True,
    **sweep: Unpack[SweepOptions],
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2015/2017, section 3.3) with JAX and Optax.

    Calls ``train_step(params, opt_state, batch) -> (params, opt_state, loss)`` once per batch,
    each time with the sweep's rate written into ``opt_state.hyperparams["learning_rate"]``, and
    stops early when the loss diverges or turns NaN/inf. ``batches`` is cycled when shorter than
    the test; a one-shot iterator ends the test when it runs out.

    Python's and numpy's global random states are put back afterwards. Your ``params`` and
    ``opt_state`` come back untouched: JAX arrays are immutable, so the sweep
    trains new ones and drops them. lrfinder copies both once before the first step, so a
    ``train_step`` jitted with ``donate_argnums`` cannot delete yours. With several injected
    rates (e.g. ``optax.multi_transform`` over two ``inject_hyperparams`` optimizers) one
    multiplier sweeps them all and keeps their ratios; ``result.lrs`` are the first one's.

    Args:
        train_step: one training step; jit it yourself (it is traced once for the whole test).
        params: the parameters to start from (any pytree).
        opt_state: the state of an optimizer wrapped in ``optax.inject_hyperparams`` whose
            learning rate is a number, not a schedule.
        batches: any iterable of batches, passed to ``train_step`` as they come.
        hyperparam: the name of the injected hyper-parameter to sweep.
        **sweep: the sweep and its stopping rule (``start_lr``, ``end_lr``, ``num_steps``,
            ``mode``, ``diverge_threshold``, ``smooth_beta``): see :class:`lrfinder.SweepOptions`.
        progress: show a tqdm progress bar.
        defer_loss: read each step's loss one step late, once the next step is dispatched, so
            the host never waits for a step before queueing the next (JAX runs them
            asynchronously). When a loss stops the test, the one step trained past it is
            dropped, and one more batch has been drawn from ``batches``; the curve is the one
            ``defer_loss=False`` records.

    Returns:
        The :class:`lrfinder.RangeTestResult`; ``result.suggestion`` names a rate.
    """
    check_inputs(train_step, params, batches, hyperparam, progress)
    if not isinstance(defer_loss, bool):
        raise LRFinderError(
            f"`defer_loss` must be True or False. Received: defer_loss={defer_loss!r}"
        )
    base_lrs = _rates(opt_state, hyperparam)
    if not base_lrs:
        raise LRFinderError(
            f"`opt_state` holds no injected {hyperparam!r}, so the range test cannot set the "
            f"rate. Received: {type(opt_state).__name__}. Build the optimizer as "
            f"optax.inject_hyperparams(optax.adam)({hyperparam}=1e-3) and pass its init state."
        )
    rt = RangeTest(
        **sweep_options(sweep),
        group_ratios=ratios_to_first(base_lrs, what=f"injected {hyperparam!r}", name=hyperparam),
    )
    data = cycle(batches)
    state = {"params": jax.tree.map(_copy, params), "opt_state": jax.tree.map(_copy, opt_state)}
    write = RateWriter(opt_state, hyperparam)

    launched = 0

    def launch(ahead: int) -> Reader | str:
        """The step ``ahead`` past the last recorded one, dispatched; a reader of its loss."""
        nonlocal launched
        batch = next(data, None)
        if batch is None:
            return "data_exhausted"
        sent = rt.group_lrs if ahead == 0 else rt.group_lrs_at(rt.step + ahead)
        out = train_step(state["params"], write.into(state["opt_state"], sent), batch)
        if not (isinstance(out, tuple) and len(out) == 3):
            raise LRFinderError(
                "`train_step` must return (params, opt_state, loss). Received: "
                f"{type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, tuple) else "")
            )
        state["params"], state["opt_state"], loss = out
        if launched == 0:
            # inject_hyperparams hands back the rates it used: a schedule would have replaced ours.
            used = _rates(state["opt_state"], hyperparam)
            if not np.allclose(used, sent, rtol=1e-6, atol=0.0):
                raise LRFinderError(
                    f"The optimizer did not train at the rate lrfinder set: its {hyperparam!r} is "
                    f"a schedule inside inject_hyperparams. Received: used {used}, set {list(sent)}"
                    f". Inject a number for the range test, e.g. {hyperparam}=1e-3."
                )
        launched += 1
        if np.shape(loss) not in ((), (1,)):
            raise LRFinderError(
                f"The loss must be a scalar. Received shape {np.shape(loss)}; return its mean."
            )
        return lambda: float(np.asarray(loss).reshape(()))

    def step(lr: float) -> float | None:
        got = launch(0)
        return None if isinstance(got, str) else got()

    # JAX's keys are explicit, but batches often shuffle with Python's or numpy's global RNG:
    # put both back, as the other adapters do.
    rng = random.getstate(), np.random.get_state()  # noqa: NPY002 (the global state users seed)
    try:
        if defer_loss:
            drive_deferred(rt, launch, progress=progress)
        else:
            drive(rt, step, progress=progress)
    finally:
        random.setstate(rng[0])
        np.random.set_state(rng[1])  # noqa: NPY002
    return rt.result(settings={"framework": "optax", "base_lrs": base_lrs})
