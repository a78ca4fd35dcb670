"""The range test for Keras 3 on any backend (JAX, PyTorch, TensorFlow), leaving no trace.

``find_lr`` runs the test on a compiled model in one call; ``RangeTestCallback`` runs it inside
your own ``model.fit``. Both set the optimizer's rate before every batch, record that batch's own
loss (not the epoch's running mean that ``logs["loss"]`` holds), stop training when the test
stops, and put the weights and every optimizer variable back exactly. Nothing is written to disk.

>>> import numpy as np, keras, lrfinder.keras
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
>>> model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
>>> x, y = np.random.rand(64, 4), np.random.rand(64, 1)
>>> result = lrfinder.keras.find_lr(model, x, y, batch_size=8, num_steps=20, progress=False)
>>> result.steps <= 20
True
"""

from .._core._frameworks import missing_keras

try:
    import keras  # noqa: F401 (the modules below import it; this names the fix if it is missing)
except ModuleNotFoundError as exc:
    raise missing_keras(exc) from exc

from ._apply import apply as apply
from ._find import RangeTestCallback as RangeTestCallback
from ._find import find_lr as find_lr
from ._refind import RefindCallback as RefindCallback
from ._schedule import ScheduleCallback as ScheduleCallback
from ._schedule import ScheduleLR as ScheduleLR
from ._tune import tune_lr as tune_lr

__all__ = [
    "RangeTestCallback",
    "RefindCallback",
    "ScheduleCallback",
    "ScheduleLR",
    "apply",
    "find_lr",
    "tune_lr",
]
