"""Log a range test or a race to the experiment trackers people already use.

``log_tensorboard(result, writer)``, ``log_mlflow(result)`` and ``log_wandb(result)`` take a
:class:`lrfinder.RangeTestResult` (the curve, every rule's suggestion, the settings) or a
:class:`lrfinder.TuneResult` (the candidates, the held-out losses by round, the winner). Trackers
chart against integer steps, so the step is the x axis and the rate is a series of its own.

Each tracker's library is imported when its function is called, never by ``import
lrfinder.trackers``; when it is missing the error names the extra to install
(``pip install "lrfinder[tensorboard]"``, ``[mlflow]``, ``[wandb]``).

>>> import lrfinder, lrfinder.trackers
>>> result = lrfinder.RangeTestResult(lrs=[1e-4, 1e-3, 1e-2], losses=[2.0, 1.0, 3.0])
>>> lrfinder.trackers.log_tensorboard(result, "runs/lr_find")  # doctest: +SKIP
"""

from ._mlflow import log_mlflow as log_mlflow
from ._tensorboard import log_tensorboard as log_tensorboard
from ._wandb import log_wandb as log_wandb

__all__ = ["log_mlflow", "log_tensorboard", "log_wandb"]
