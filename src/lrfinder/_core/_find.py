"""The range test for any training loop that can run one step at a given rate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Unpack

from ._errors import LRFinderError
from ._progress import progress_bar
from ._rangetest import RangeTest, SweepOptions, sweep_options
from ._result import RangeTestResult

# A loss-scaled step is skipped when its gradients overflow, and each skip halves the scale; 40
# in a row take 65536 below 1e-7, so the gradients are infinite at any scale and the test stops
# instead of eating the data.
MAX_SKIPS_IN_A_ROW = 40


def cycle(data: Iterable[Any]) -> Iterator[Any]:
    """Yield batches forever from a re-iterable (a list, a DataLoader); once from an iterator."""
    iterator = iter(data)
    one_shot = iterator is data
    while True:
        yielded = False
        for batch in iterator:
            yielded = True
            yield batch
        if one_shot or not yielded:
            return
        iterator = iter(data)


def drive(rt: RangeTest, step: Callable[[float], Any], *, progress: bool) -> None:
    """Run ``step`` at ``rt``'s rates until the test stops; ``None`` from a step means no data."""
    bar = progress_bar(progress, rt.num_steps)
    try:
        done = rt.done
        while not done:
            loss = step(rt.lr)
            if loss is None:
                rt.stop("data_exhausted")
                break
            done = rt.record(float(loss))
            bar.step(rt)
    finally:
        bar.close()


# What a deferred step hands back: a reader of its loss, or why there is none ("data_exhausted",
# "nonfinite"), known at once.
Reader = Callable[[], float]


def drive_deferred(rt: RangeTest, launch: Callable[[int], Reader | str], *, progress: bool) -> None:
    """:func:`drive` with each loss read one step late, so the host never waits for it.

    ``launch(ahead)`` trains the step ``ahead`` steps past the last recorded one (0 or 1) at that
    step's rates and returns a reader of its loss, or a stop reason. The next step is launched
    before the last one's loss is read; when that loss stops the test, the step trained past it
    is not recorded (the caller's restore undoes it), so the curve is the one :func:`drive`
    records. Nothing is launched past ``num_steps``.
    """
    bar = progress_bar(progress, rt.num_steps)
    try:
        pending: Reader | None = None
        while not rt.done:
            ahead = 0 if pending is None else 1
            launched = launch(ahead) if rt.step + ahead < rt.num_steps else None
            if pending is not None:
                rt.record(float(pending()))
                bar.step(rt)
                if rt.done:
                    break
            if isinstance(launched, str):
                rt.stop(launched)
                break
            pending = launched
    finally:
        bar.close()


def user_result(rt: RangeTest) -> RangeTestResult:
    """The result of a test driven by the caller's own ``step``, whose first ``None`` (no loss)
    is a missing ``return`` far more often than data running out before the first batch."""
    if rt.step == 0 and rt.stop_reason == "data_exhausted":
        raise LRFinderError(
            f"`step` returned None at the first rate ({rt.start_lr:.3g}), so the test recorded "
            "no loss. `step(lr)` must train one step and return its loss (a float or a 0-d "
            "array): check that it ends with `return loss`. None ends the test, as when the "
            "data runs out."
        )
    return rt.result()


def find_lr(
    step: Callable[[float], float],
    *,
    progress: bool = True,
    **sweep: Unpack[SweepOptions],
) -> RangeTestResult:
    """Run the learning-rate range test with any training loop (Smith 2015/2017, section 3.3).

    ``step(lr)`` must run one training step at learning rate ``lr`` and return that step's loss
    (any number, e.g. a float or a 0-d array); returning ``None`` ends the test as if the data ran
    out. The caller owns the model's state: save and restore it around this call if later
    training must start from the same weights (the framework adapters do this for you).

    Args:
        step: one training step at the given rate, returning its loss.
        **sweep: the sweep and its stopping rule (``start_lr``, ``end_lr``, ``num_steps``,
            ``mode``, ``diverge_threshold``, ``smooth_beta``): see :class:`lrfinder.SweepOptions`.
        progress: show a tqdm progress bar when tqdm is installed.

    Examples:
        >>> w = [0.0]
        >>> def step(lr):
        ...     loss = (w[0] - 3.0) ** 2
        ...     w[0] -= lr * 2 * (w[0] - 3.0)
        ...     return loss
        >>> result = find_lr(step, start_lr=1e-4, end_lr=10, num_steps=50, progress=False)
        >>> result.stop_reason
        'diverged'
    """
    if not callable(step):
        raise LRFinderError(
            f"`step` must be a callable taking a learning rate and returning the loss. "
            f"Received: {type(step).__name__}"
        )
    rt = RangeTest(
        **sweep_options(sweep),
    )
    drive(rt, step, progress=progress)
    return user_result(rt)
