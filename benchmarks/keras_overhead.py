"""What lrfinder.keras.find_lr costs over a plain ``model.fit`` of the same batches.

The same compiled Adam model, the same 100 batches, one epoch: (a) ``fit`` with no callback,
(b) ``fit`` with a callback whose batch-end hook does nothing (Keras runs fit differently once a
callback has a batch hook), (c) ``fit`` with a callback that only sets the rate before each
batch (what any rate callback pays: on JAX, fit's jitted state is written back into the
variables and read again), (d) ``fit`` with ``RangeTestCallback``, (e) ``find_lr``. A tiny MLP
(64-32-10, batch 16) and a medium one (64-512-512-10). Warm (compiled) models, interleaved rounds, medians of wall time,
as a ratio to (a). The backend is KERAS_BACKEND's (JAX unless set):

    .venv/bin/python -m benchmarks.keras_overhead [--rounds 15]
    KERAS_BACKEND=torch .venv/bin/python -m benchmarks.keras_overhead
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

import lrfinder.keras

STEPS, BATCH, START_LR, END_LR = 100, 16, 1e-6, 1e-3
SWEEP = {"start_lr": START_LR, "end_lr": END_LR, "num_steps": STEPS, "diverge_threshold": None}


def problem(hidden: list[int]) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Dense(width, activation="relu") for width in hidden]
    model = keras.Sequential([keras.Input((64,)), *layers, keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(START_LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 64)).astype("float32")
    return model, x, rng.integers(0, 10, BATCH * STEPS)


class BatchEnd(keras.callbacks.Callback):
    """Does nothing, at the end of every batch: Keras runs fit differently when a callback has
    a batch hook (on JAX on this machine, faster than with none), so it is the baseline a
    batch-level callback is fairly compared with."""

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        pass


class SetRate(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.model.optimizer.learning_rate = START_LR


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, callbacks: list[Any]) -> None:
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)


def plain(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    fit(model, x, y, [])


def batch_end(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    fit(model, x, y, [BatchEnd()])


def set_rate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    fit(model, x, y, [SetRate()])


def callback(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    test = lrfinder.keras.RangeTestCallback(progress=False, **SWEEP)  # type: ignore[arg-type]
    fit(model, x, y, [test])
    assert test.result is not None and test.result.steps == STEPS


def finder(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    result = lrfinder.keras.find_lr(model, x, y, batch_size=BATCH, shuffle=False, progress=False,
                                    **SWEEP)  # type: ignore[arg-type]  # fmt: skip
    assert result.steps == STEPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    backend = keras.config.backend()
    print(f"Keras {keras.__version__} on {backend}; {STEPS} batches of {BATCH}, Adam; wall time, "
          f"median of {args.rounds} interleaved rounds.\n")  # fmt: skip
    tools = {"plain fit": plain, "no-op batch-end callback": batch_end,
             "rate-only callback": set_rate,
             "RangeTestCallback": callback, "find_lr": finder}  # fmt: skip
    print("| model | " + " | ".join(f"{k} (us a batch)" for k in tools) + " | "
          + " | ".join(f"{k} / plain" for k in list(tools)[1:]) + " |")  # fmt: skip
    print("|---|" + "---:|" * (2 * len(tools) - 1))
    for name, hidden in (("tiny MLP 64-32-10", [32]), ("medium MLP 64-512-512-10", [512, 512])):
        model, x, y = problem(hidden)
        for fn in tools.values():  # compiled and warm
            fn(model, x, y)
        times: dict[str, list[float]] = {k: [] for k in tools}
        order = list(tools)
        for r in range(args.rounds):
            for k in order[r % len(order) :] + order[: r % len(order)]:
                started = time.perf_counter()
                tools[k](model, x, y)
                times[k].append(time.perf_counter() - started)
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["plain fit"]
        print(f"| {name} | " + " | ".join(f"{t / STEPS * 1e6:.0f}" for t in med.values()) + " | "
              + " | ".join(f"{med[k] / base:.2f}" for k in order[1:]) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
