"""Repeated range tests: run the sweep several times and see how far their suggestions agree.

Two runs of a finder can answer differently (fastai #3295, torch-lr-finder #68); repeating the
sweep on other batches and taking the median rate, with the spread reported, says how much.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._errors import LRFinderError
from ._result import RangeTestResult


def find_lr_repeated(
    find: Callable[[int], RangeTestResult], *, repeats: int = 3
) -> list[RangeTestResult]:
    """Run a range test ``repeats`` times and return every result, for :func:`lrfinder.suggest`.

    ``find(k)`` runs repeat ``k`` (0, 1, ...) and returns its :class:`RangeTestResult`; it must
    see other batches each time (another shuffle, another seed), and start from the same
    weights (the framework adapters restore the model after each test). Pass the list to
    :func:`lrfinder.suggest`: it reads every curve and returns the median rate, with ``spread``
    (the standard deviation of the rates in decades), a warning when the sweeps disagree by
    more than 0.2 decades, and the confidence lowered accordingly. Each repeat costs one full
    range test.

    ``lrfinder.torch.find_lr`` puts the random number generators back as they were, so a loader
    that shuffles would replay the same batches every time: seed each repeat inside
    ``torch.random.fork_rng()``, which also leaves the caller's generator untouched::

        def sweep(k):
            with torch.random.fork_rng():
                torch.manual_seed(k)
                return lrfinder.torch.find_lr(model, optimizer, loader, progress=False)

        results = lrfinder.find_lr_repeated(sweep, repeats=3)
        s = lrfinder.suggest(results)  # s.lr: the median rate; s.spread: in decades

    Args:
        find: runs repeat ``k`` of the range test and returns its result.
        repeats: how many range tests to run (at least 2).

    Raises:
        LRFinderError: ``repeats`` is below 2, ``find`` returns something other than a
            result, or the first two repeats gave the very same curve (their spread would
            say nothing; seed each repeat).

    Examples:
        >>> import lrfinder
        >>> def find(k):  # a noisy quadratic bowl; k seeds the noise
        ...     rng, w = np.random.default_rng(k), [0.0]
        ...     def step(lr):
        ...         loss = (w[0] - 3.0) ** 2 + 0.01 * rng.standard_normal()
        ...         w[0] -= lr * 2 * (w[0] - 3.0)
        ...         return loss
        ...     return lrfinder.find_lr(step, start_lr=1e-4, end_lr=10, num_steps=80,
        ...                             progress=False)
        >>> results = find_lr_repeated(find, repeats=3)
        >>> s = lrfinder.suggest(results)
        >>> len(results), s.spread is not None and s.spread < 0.2
        (3, True)
    """
    if not callable(find):
        raise LRFinderError(
            "`find` must be a callable taking the repeat's index and returning a "
            f"RangeTestResult. Received: {type(find).__name__}"
        )
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise LRFinderError(
            f"`repeats` must be an integer of at least 2 (one sweep has no spread; call the "
            f"finder directly). Received: repeats={repeats!r}"
        )
    results: list[RangeTestResult] = []
    for k in range(repeats):
        result = find(k)
        if not isinstance(result, RangeTestResult):
            raise LRFinderError(
                f"`find` must return a RangeTestResult. Received: {type(result).__name__} "
                f"from repeat {k}"
            )
        if k == 1 and _same_curve(results[0], result):
            raise LRFinderError(
                "The first two repeats gave the very same curve, so their spread would say "
                "nothing. Let each repeat see other batches: seed it with its index inside "
                "`find` (under torch, `torch.manual_seed(k)` within `torch.random.fork_rng()`)."
            )
        results.append(result)
    return results


def _same_curve(a: RangeTestResult, b: RangeTestResult) -> bool:
    return a.losses.shape == b.losses.shape and bool(
        np.array_equal(a.losses, b.losses, equal_nan=True)
    )
