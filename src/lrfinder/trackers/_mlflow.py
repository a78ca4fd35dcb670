"""Log a range test or a race to MLflow: metrics with integer steps, params, artifacts."""

from __future__ import annotations

import time

from .._core._result import RangeTestResult
from .._tuning._race_result import TuneResult
from ._missing import require
from ._records import records

# MLflow's limits on one log_batch call.
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100


def log_mlflow(
    result: RangeTestResult | TuneResult,
    *,
    run_id: str | None = None,
    prefix: str = "lrfinder",
) -> str:
    """Log a range test (or a race) to an MLflow run.

    The series (``<prefix>/lr``, ``/loss``, ``/smoothed_loss``, ...) are metrics at the range
    test's step; each rule's suggested rate is the metric ``<prefix>/suggested_lr/<method>`` at
    the step where it sits on the curve; the settings are params (``<prefix>/settings/...``,
    plus ``/stop_reason`` and ``/steps``). The artifacts under ``<prefix>/`` hold the tables in
    Markdown and the result as lrfinder's JSON, which ``RangeTestResult.load`` (or
    ``TuneResult.load``) and the ``lrfinder`` command line read back. A race logs
    ``<prefix>/race/...`` as :func:`log_tensorboard` describes.

    MLflow's params cannot change once logged: log a second test into the same run under
    another ``prefix``.

    Args:
        result: a :class:`lrfinder.RangeTestResult` or a :class:`lrfinder.TuneResult`.
        run_id: the run to log into; default the active run (``mlflow.start_run()``), else a
            new run in the current experiment, ended afterwards.
        prefix: the start of every name.

    Returns:
        the run's id.

    Examples:
        >>> import mlflow  # doctest: +SKIP
        >>> with mlflow.start_run():  # doctest: +SKIP
        ...     log_mlflow(result)
    """
    mlflow = require("mlflow", tracker="MLflow", extra="mlflow", function="log_mlflow")
    entities = require("mlflow.entities", tracker="MLflow", extra="mlflow", function="log_mlflow")
    rec = records(result, prefix=prefix)
    started = None
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            started = mlflow.start_run(run_name=prefix.replace("/", "-"))
            active = started
        run_id = active.info.run_id
    client = mlflow.MlflowClient()
    try:
        now = int(time.time() * 1000)
        metrics = [
            entities.Metric(s.tag, value, now, step)
            for s in rec.series
            for step, value in zip(s.steps, s.values, strict=True)
        ]
        metrics += [
            entities.Metric(tag, value, now, step) for tag, (value, step) in rec.summary.items()
        ]
        params = [entities.Param(k, v) for k, v in rec.params.items()]
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH])
        for i in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i : i + _PARAMS_PER_BATCH])
        for name, table in rec.tables.items():
            client.log_text(run_id, table.markdown() + "\n", f"{prefix}/{name}.md")
        for name, text in rec.documents.items():
            client.log_text(run_id, text + "\n", f"{prefix}/{name}")
    finally:
        if started is not None:
            mlflow.end_run()
    return run_id
