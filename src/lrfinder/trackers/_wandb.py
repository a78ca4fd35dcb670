"""Log a range test or a race to Weights & Biases, each curve on an integer axis of its own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._core._errors import LRFinderError
from .._core._result import RangeTestResult
from .._tuning._race_result import TuneResult
from ._missing import require
from ._records import records


def log_wandb(
    result: RangeTestResult | TuneResult,
    *,
    run: Any = None,
    prefix: str = "lrfinder",
) -> Any:
    """Log a range test (or a race) to a Weights & Biases run.

    Each series gets its own x axis through ``run.define_metric``: the range test's series
    (``<prefix>/lr``, ``/loss``, ``/smoothed_loss``, ...) are charted against
    ``<prefix>/step``, the race's candidate rates against ``<prefix>/race/candidate`` and its
    held-out losses against ``<prefix>/race/round``. The suggested rates and the winner go to
    the run's summary, the settings to its config, the tables (suggestions, the race's rounds)
    are ``wandb.Table`` s, and the result as lrfinder's JSON is saved in the run's files.

    Every ``run.log`` call advances the run's own ``_step``: log the test before training, or in
    a run of its own (``wandb.init(job_type="lr_find")``), when training logs with explicit
    ``step=`` values.

    Args:
        result: a :class:`lrfinder.RangeTestResult` or a :class:`lrfinder.TuneResult`.
        run: the run (``wandb.init()``'s return); default the current ``wandb.run``.
        prefix: the start of every name.

    Returns:
        the run.

    Examples:
        >>> import wandb  # doctest: +SKIP
        >>> log_wandb(result, run=wandb.init(project="mnist", job_type="lr_find"))  # doctest: +SKIP
    """
    wandb = require("wandb", tracker="Weights & Biases", extra="wandb", function="log_wandb")
    run = run if run is not None else wandb.run
    if run is None:
        raise LRFinderError(
            "log_wandb needs a Weights & Biases run, and none is active. Received: run=None. "
            "Call wandb.init() first, or pass run=wandb.init(...)."
        )
    rec = records(result, prefix=prefix)
    axes = rec.axes()
    for axis, group in axes.items():
        run.define_metric(axis, hidden=True)
        for series in group:
            run.define_metric(series.tag, step_metric=axis)
    for axis, group in axes.items():
        rows: dict[int, dict[str, float]] = {}
        for series in group:
            for step, value in zip(series.steps, series.values, strict=True):
                rows.setdefault(step, {})[series.tag] = value
        for step in sorted(rows):
            run.log({axis: step, **rows[step]})
    for name, table in rec.tables.items():
        run.log({f"{prefix}/{name}": wandb.Table(columns=list(table.columns), data=_cells(table))})
    for tag, (value, _step) in rec.summary.items():
        run.summary[tag] = value
    run.config.update(dict(rec.settings), allow_val_change=True)
    folder = Path(run.dir) / prefix
    for name, text in rec.documents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        run.save(os.fspath(path), base_path=run.dir, policy="now")
    return run


def _cells(table: Any) -> list[list[Any]]:
    return [[None if v is None else v for v in row] for row in table.rows]
