"""lrfinder: the learning-rate range test for any framework.

Run a range test (Smith, "Cyclical Learning Rates for Training Neural Networks", 2015/2017) from
any training loop, read the curve, and get a learning rate you can use::

    import lrfinder

    result = lrfinder.find_lr(lambda lr: train_one_step(lr), start_lr=1e-7, end_lr=10)
    print(result.suggestion)

Framework adapters live in their own submodules and are imported only when asked for:
``lrfinder.torch``, ``lrfinder.keras`` (Keras 3, any backend), ``lrfinder.optax`` (JAX), and the
re-finding callbacks ``lrfinder.lightning`` and ``lrfinder.huggingface``. ``lrfinder.schedules``
holds the schedules that follow the test. ``import lrfinder`` loads numpy and nothing else.
"""

from . import _reading as _reading  # registers every suggestion rule in the core's registry
from . import schedules as schedules
from ._core._errors import LRFinderError as LRFinderError
from ._core._errors import LRFinderWarning as LRFinderWarning
from ._core._errors import NoSuggestionError as NoSuggestionError
from ._core._errors import ResultFileError as ResultFileError
from ._core._find import find_lr as find_lr
from ._core._rangetest import RangeTest as RangeTest
from ._core._rangetest import SweepOptions as SweepOptions
from ._core._registry import DEFAULT_METHOD as DEFAULT_METHOD
from ._core._registry import Suggestion as Suggestion
from ._core._registry import methods as methods
from ._core._registry import register as register
from ._core._repeat import find_lr_repeated as find_lr_repeated
from ._core._result import RangeTestResult as RangeTestResult
from ._core._smoothing import ema as ema
from ._core._smoothing import sma as sma
from ._core._suggestion import suggest as suggest
from ._core._suggestion import suggest_all as suggest_all
from ._core._sweep import sweep as sweep
from ._core._sweep import sweep_lr as sweep_lr
from ._plotting import _notebook as _notebook  # the notebook display of results
from ._plotting._race import plot_race as plot_race
from ._plotting._result import plot_derivative as plot_derivative
from ._plotting._result import plot_loss as plot_loss
from ._plotting._result import plot_result as plot_result
from ._plotting._schedule import plot_schedule as plot_schedule
from ._tuning._candidates import candidates as candidates
from ._tuning._race import tune_lr as tune_lr
from ._tuning._race_result import TuneResult as TuneResult
from ._tuning._refind import Refind as Refind
from ._tuning._refind import Refinder as Refinder
from ._tuning._refind import RefindPolicy as RefindPolicy
from .schedules._from import ScheduleChoice as ScheduleChoice
from .schedules._from import schedule_from as schedule_from

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_METHOD",
    "LRFinderError",
    "LRFinderWarning",
    "NoSuggestionError",
    "RangeTest",
    "RangeTestResult",
    "Refind",
    "RefindPolicy",
    "Refinder",
    "ResultFileError",
    "ScheduleChoice",
    "Suggestion",
    "SweepOptions",
    "TuneResult",
    "__version__",
    "candidates",
    "ema",
    "find_lr",
    "find_lr_repeated",
    "methods",
    "plot_derivative",
    "plot_loss",
    "plot_race",
    "plot_result",
    "plot_schedule",
    "register",
    "schedule_from",
    "schedules",
    "sma",
    "suggest",
    "suggest_all",
    "sweep",
    "sweep_lr",
    "tune_lr",
]
