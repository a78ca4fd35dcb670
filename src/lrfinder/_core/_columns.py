"""Which columns of a logged table hold the rate and the loss, and rows joined by step.

lrfinder's own CSV (``lr``, ``loss``, ``smoothed_loss``, ``lr_group_i``, ``val_loss``), any
``lr``/``learning_rate`` and ``loss`` table, Lightning's CSVLogger ``metrics.csv`` (``lr-SGD``,
``train_loss``, the rate and the loss often on different rows of one step), TensorBoard's scalar
exports (``Wall time,Step,Value``, one tag a file) and, through ``lr_col``/``loss_col``, anything
else. Every way this fails is one line that names the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import ResultFileError
from ._table import Table

LR_NAMES = ("lr", "learning_rate", "learning rate", "learning-rate", "learningrate")
LOSS_NAMES = ("loss", "train_loss", "train_loss_step", "training_loss", "train/loss", "loss/train")
STEP_NAMES = ("step", "global_step", "iteration", "trainer/global_step")
SCALAR_EXPORT = ("wall time", "step", "value")
# Lightning's LearningRateMonitor: lr-<Optimizer>, lr-<Optimizer>/pg<i> for several groups, and
# lr-<Optimizer>-momentum / -weight_decay when asked for; those two are not rates.
_LIGHTNING_LR = re.compile(r"^lr-(?P<opt>.+?)(?:/pg(?P<group>\d+))?$", re.IGNORECASE)
_NOT_RATES = ("-momentum", "-weight_decay", "-beta1")
NAME_FIX = "name them with --lr-col / --loss-col (lr_col=, loss_col= in Python)"


def _column(table: Table, given: str | None, names: Sequence[str], flag: str) -> int | None:
    if given is None:
        return table.index(tuple(names))
    found = table.index((given.strip(),))
    if found is None:
        raise ResultFileError(
            f"No column named {given!r} ({flag}) in this CSV. Received columns: "
            f"{list(table.columns)}"
        )
    return found


def _lightning_rates(table: Table) -> list[int]:
    """The rate columns Lightning's LearningRateMonitor wrote, first group first; [] if none."""
    found: dict[str, list[tuple[int, int]]] = {}
    for i, name in enumerate(table.columns):
        match = _LIGHTNING_LR.match(name.strip())
        if match and not name.strip().lower().endswith(_NOT_RATES):
            group = int(match["group"] or 1)
            found.setdefault(match["opt"], []).append((group, i))
    if len(found) > 1:
        names = [table.columns[i] for cols in found.values() for _, i in cols]
        raise ResultFileError(
            f"This CSV has the rates of several optimizers ({', '.join(names)}); pick the one "
            "to read with --lr-col (lr_col= in Python)."
        )
    return [i for _, i in sorted(next(iter(found.values()), []))]


def curve_fields(
    table: Table, *, lr_col: str | None = None, loss_col: str | None = None
) -> dict[str, Any]:
    """The fields of a result read from ``table``: ``lrs``, ``losses`` and, where the table has
    them, ``smoothed_losses``, ``group_lrs`` and ``val_losses`` (None otherwise)."""
    keys = tuple(c.strip().lower() for c in table.columns)
    if keys[:3] == SCALAR_EXPORT and lr_col is None and loss_col is None:
        raise ResultFileError(
            "This is a TensorBoard scalar export (`Wall time,Step,Value`: one tag a file). "
            "Pass the rate's and the loss's exports together: --lr LR.csv --loss LOSS.csv "
            "(RangeTestResult.from_scalars(lr=..., loss=...) in Python)."
        )
    lr = _column(table, lr_col, LR_NAMES, "--lr-col")
    groups = [i for i, k in enumerate(keys) if k.startswith("lr_group_")]
    if lr is None and lr_col is None:
        lightning = _lightning_rates(table)
        if lightning:
            lr, groups = lightning[0], (lightning if len(lightning) > 1 else [])
    loss = _column(table, loss_col, LOSS_NAMES, "--loss-col")
    if lr is None or loss is None:
        raise ResultFileError(
            f"A CSV curve needs the columns `lr` and `loss`. Received columns: "
            f"{list(table.columns)}; {NAME_FIX}."
        )
    smooth = table.index(("smoothed_loss",))
    val = table.index(("val_loss",))
    wanted = [lr, loss, *(c for c in (smooth, val) if c is not None), *groups]
    values, blank = table.numbers(wanted)
    at = {col: values[:, j] for j, col in enumerate(wanted)}
    step = table.index(STEP_NAMES)
    if blank is not None and (step is not None or blank[:, :2].any()):
        # Blank cells: read again with the step column, to join the rows of each step.
        if step is not None and step not in wanted:
            wanted.append(step)
            values, blank = table.numbers(wanted)
        assert blank is not None  # the same cells are blank on the second reading
        at = _merge_by_step(table, wanted, values, blank, step, lr, loss)
    return {
        "lrs": at[lr],
        "losses": at[loss],
        "smoothed_losses": None if smooth is None else at[smooth],
        "group_lrs": np.column_stack([at[g] for g in groups]) if groups else None,
        "val_losses": None if val is None else at[val],
    }


def _merge_by_step(
    table: Table,
    cols: list[int],
    values: np.ndarray,
    blank: np.ndarray,
    step: int | None,
    lr: int,
    loss: int,
) -> dict[int, np.ndarray]:
    """One row per step that logged both a rate and a loss (Lightning's CSVLogger writes what
    each call logged on a row of its own: the rate on one, the loss on the next)."""
    if step is None:
        row, j = np.argwhere(blank[:, [cols.index(lr), cols.index(loss)]])[0]
        name = table.columns[(lr, loss)[j]]
        raise ResultFileError(
            f"The CSV has a row that is not numbers: data row {row + 1} has no `{name}`. "
            "A file that logs the rate and the loss on different rows needs a `step` column "
            "to join them by."
        )
    j_step = cols.index(step)
    has_step = ~blank[:, j_step]
    steps = values[has_step, j_step]
    keep = np.unique(steps)
    out: dict[int, np.ndarray] = {}
    present = np.ones(keep.size, dtype=bool)
    for j, col in enumerate(cols):
        logged = has_step & ~blank[:, j]
        s, v = values[logged, j_step], values[logged, j]
        # the last value logged at each step, as a logger's own plot shows it
        last = s.size - 1 - np.unique(s[::-1], return_index=True)[1]
        merged = np.full(keep.size, np.nan)
        at = np.searchsorted(keep, s[last])
        merged[at] = v[last]
        out[col] = merged
        if col in (lr, loss):
            mark = np.zeros(keep.size, dtype=bool)
            mark[at] = True
            present &= mark
    if not present.any():
        raise ResultFileError(
            f"No step of this CSV logged both `{table.columns[lr]}` and "
            f"`{table.columns[loss]}`; log the rate (e.g. Lightning's LearningRateMonitor with "
            "logging_interval='step') and the loss at the same steps."
        )
    return {col: arr[present] for col, arr in out.items()}


def scalar_series(table: Table, flag: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one TensorBoard scalar export, the last value of a repeated step."""
    step = table.index(("step",))
    value = table.index(("value",))
    if step is None or value is None:
        raise ResultFileError(
            f"{flag} takes a TensorBoard scalar export with the columns `Step` and `Value`. "
            f"Received columns: {list(table.columns)}"
        )
    values, blank = table.numbers([step, value])
    if blank is not None:
        values = values[~blank.any(axis=1)]
    return last_per_step(values[:, 0], values[:, 1])


def last_per_step(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique steps, each with the last value logged at it."""
    last = steps.size - 1 - np.unique(steps[::-1], return_index=True)[1]
    order = np.argsort(steps[last], kind="stable")
    return steps[last][order], values[last][order]


def join_by_step(
    lr: tuple[np.ndarray, np.ndarray], loss: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """The steps logged in both series, with their rate and loss."""
    common, i, j = np.intersect1d(lr[0], loss[0], assume_unique=True, return_indices=True)
    if common.size == 0:
        raise ResultFileError(
            "The rate and the loss share no step: they must come from the same run "
            f"(rate steps {_span(lr[0])}, loss steps {_span(loss[0])})."
        )
    return {"lrs": lr[1][i], "losses": loss[1][j]}


def _span(steps: np.ndarray) -> str:
    return "none" if steps.size == 0 else f"{steps.min():g}..{steps.max():g}"
