"""Learning-rate schedules: functions of the optimizer step, checked when they are built.

``Schedule = Callable[[int], float]``: every factory here validates its arguments at once and
returns a plain function of the step (0, 1, 2, ...). The values follow PyTorch's
``torch.optim.lr_scheduler`` operation by operation, and its vocabulary (``step_size``, ``gamma``,
``T_max``, ``T_0``, ``T_mult``, ``eta_min``, ``max_lr``, ``pct_start``, ``div_factor``,
``final_div_factor``). Framework adapters wrap any of them: ``lrfinder.torch.ScheduleLR``, a Keras
``LearningRateSchedule`` and an optax schedule.

Examples:
    >>> from lrfinder import schedules
    >>> s = schedules.linear_warmup(schedules.cosine_annealing(0.1, T_max=900), steps=100)
    >>> s(0), s(100), s(1000)
    (0.0, 0.1, 0.0)
"""

from ._basic import Schedule as Schedule
from ._basic import constant as constant
from ._basic import cosine_annealing as cosine_annealing
from ._basic import cosine_warm_restarts as cosine_warm_restarts
from ._basic import exponential_decay as exponential_decay
from ._basic import join as join
from ._basic import linear_warmup as linear_warmup
from ._basic import multistep_decay as multistep_decay
from ._basic import step_decay as step_decay
from ._basic import tabulate as tabulate
from ._cyclical import cyclic as cyclic
from ._cyclical import cyclic_momentum as cyclic_momentum
from ._cyclical import one_cycle as one_cycle
from ._cyclical import one_cycle_momentum as one_cycle_momentum
from ._plateau import ReduceLROnPlateau as ReduceLROnPlateau

__all__ = [
    "ReduceLROnPlateau",
    "Schedule",
    "constant",
    "cosine_annealing",
    "cosine_warm_restarts",
    "cyclic",
    "cyclic_momentum",
    "exponential_decay",
    "join",
    "linear_warmup",
    "multistep_decay",
    "one_cycle",
    "one_cycle_momentum",
    "step_decay",
    "tabulate",
]
