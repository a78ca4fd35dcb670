"""The range test inside Ray Train, and its result back on the driver.

Run ``lrfinder.torch.find_lr`` (or ``tune_lr``) in a ``TorchTrainer``'s
``train_loop_per_worker`` as under ``torchrun``: Ray Train starts the process group, every worker
sweeps its own shard of the data and all of them record the same averaged curve. Then call
:func:`report` on every worker: the result travels to the driver in a checkpoint (Ray Train keeps
the metrics of a report only with a checkpoint), and :func:`load_result` reads it from the
``Result`` that ``trainer.fit()`` returns.

>>> import lrfinder.ray  # doctest: +SKIP
>>> def train_loop_per_worker(config):  # doctest: +SKIP
...     model = ray.train.torch.prepare_model(build_model())
...     result = lrfinder.torch.find_lr(model, optimizer, loader, loss_fn=loss_fn)
...     lrfinder.ray.report(result)
>>> fitted = TorchTrainer(train_loop_per_worker, scaling_config=ScalingConfig(num_workers=2)).fit()
>>> lrfinder.ray.load_result(fitted).suggestion  # doctest: +SKIP
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._core._errors import LRFinderError
from ._core._frameworks import missing_framework
from ._core._result import RangeTestResult

try:
    import ray.train
except ModuleNotFoundError as exc:
    raise missing_framework(exc, module="lrfinder.ray", framework="Ray Train", extra="ray") from exc

__all__ = ["load_result", "report"]

# The file the result is saved to inside the checkpoint.
RESULT_FILE = "lrfinder_result.json"


def report(result: RangeTestResult, *, metrics: Mapping[str, Any] | None = None) -> None:
    """Report a range test from every worker of a Ray Train run; rank 0's comes back.

    Call it on every worker (Ray Train waits for all of them at each report). Rank 0 saves the
    result as JSON in a checkpoint; every worker reports ``lrfinder/steps`` and
    ``lrfinder/suggested_lr`` (NaN when the curve gives no suggestion) beside your ``metrics``.

    Args:
        result: the worker's :class:`lrfinder.RangeTestResult` (the same on every rank).
        metrics: more metrics to report with it.
    """
    try:
        suggested = result.suggestion.lr
    except LRFinderError:
        suggested = math.nan
    values = {"lrfinder/steps": result.steps, "lrfinder/suggested_lr": suggested}
    values.update(metrics or {})
    with tempfile.TemporaryDirectory(prefix="lrfinder-") as folder:
        checkpoint = None
        if ray.train.get_context().get_world_rank() == 0:
            result.save(Path(folder) / RESULT_FILE)
            checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report(values, checkpoint=checkpoint)


def load_result(fitted: Any) -> RangeTestResult:
    """The range test a run reported with :func:`report`, from ``trainer.fit()``'s ``Result``."""
    checkpoint = getattr(fitted, "checkpoint", None)
    if checkpoint is None:
        error = getattr(fitted, "error", None)
        raise LRFinderError(
            "The Ray Train result holds no checkpoint, so no range test came back. Call "
            "lrfinder.ray.report(result) on every worker in train_loop_per_worker. "
            f"Received: checkpoint=None, error={error!r}"
        )
    with checkpoint.as_directory() as folder:
        path = Path(folder) / RESULT_FILE
        if not path.exists():
            files = sorted(p.name for p in Path(folder).iterdir())
            raise LRFinderError(
                f"The checkpoint holds no {RESULT_FILE}: it was not reported by "
                f"lrfinder.ray.report. Received: files={files}"
            )
        return RangeTestResult.load(path)
