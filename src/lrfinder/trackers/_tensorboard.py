"""Log a range test or a race to TensorBoard, through the writer the user already has."""

from __future__ import annotations

import os
from typing import Any

from .._core._errors import LRFinderError
from .._core._result import RangeTestResult
from .._tuning._race_result import TuneResult
from ._missing import require
from ._records import records


def _writer(log_dir: str | os.PathLike[str]) -> Any:
    """A writer of PyTorch's (``torch.utils.tensorboard``), else of ``tensorboardX``."""
    try:
        import torch.utils.tensorboard as tb

        return tb.SummaryWriter(log_dir=os.fspath(log_dir))
    except ImportError:  # no torch, or torch without the tensorboard package
        tbx = require(
            "tensorboardX", tracker="tensorboardX", extra="tensorboard", function="log_tensorboard"
        )
        return tbx.SummaryWriter(logdir=os.fspath(log_dir))


def log_tensorboard(
    result: RangeTestResult | TuneResult,
    writer: Any,
    *,
    prefix: str = "lrfinder",
) -> Any:
    """Write a range test (or a race) to TensorBoard.

    A range test's series (``<prefix>/lr``, ``/loss``, ``/smoothed_loss``, ``/val_loss``, and
    ``/lr_group_<g>`` with several parameter groups) are scalars at its step, an integer; the
    rate is a series of its own. Each rule's suggested rate is a scalar
    ``<prefix>/suggested_lr/<method>`` at the step where it sits on the curve. The suggestions
    and the settings go to the Text tab as tables. A race (:class:`lrfinder.TuneResult`) writes
    ``<prefix>/race/candidate_lr`` by candidate, ``<prefix>/race/held_out_loss/<k>`` by round,
    the winner ``<prefix>/race/lr``, its rounds as a table, and its range test under
    ``<prefix>/range_test``.

    Args:
        result: a :class:`lrfinder.RangeTestResult` or a :class:`lrfinder.TuneResult`.
        writer: a ``SummaryWriter`` of ``torch.utils.tensorboard`` or of ``tensorboardX``
            (anything with ``add_scalar`` and ``add_text``), or a log directory: a writer is
            made there (PyTorch's, else tensorboardX's), written and closed.
        prefix: the start of every tag.

    Returns:
        the writer, flushed (closed when this function made it).

    Examples:
        >>> from torch.utils.tensorboard import SummaryWriter  # doctest: +SKIP
        >>> log_tensorboard(result, SummaryWriter("runs/lr_find"))  # doctest: +SKIP
    """
    made = isinstance(writer, (str, os.PathLike))
    if made:
        writer = _writer(writer)
    elif not all(callable(getattr(writer, m, None)) for m in ("add_scalar", "add_text")):
        raise LRFinderError(
            "`writer` must be a TensorBoard SummaryWriter (torch.utils.tensorboard or "
            f"tensorboardX) or a log directory. Received a {type(writer).__name__}"
        )
    rec = records(result, prefix=prefix)
    try:
        for series in rec.series:
            for step, value in zip(series.steps, series.values, strict=True):
                writer.add_scalar(series.tag, value, global_step=step)
        for tag, (value, step) in rec.summary.items():
            writer.add_scalar(tag, value, global_step=step)
        for name, table in rec.tables.items():
            writer.add_text(f"{prefix}/{name}", table.markdown(), global_step=0)
        settings = "\n".join(
            ["| setting | value |", "|---|---|"]
            + [f"| {k} | {v.replace('|', '/')} |" for k, v in rec.params.items()]
        )
        writer.add_text(f"{prefix}/settings", settings, global_step=0)
        writer.flush()
    finally:
        if made:
            writer.close()
    return writer
