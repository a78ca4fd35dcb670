"""Curves from TensorBoard event files (``events.out.tfevents.*``), read with the ``tensorboard``
package when it is installed (``pip install 'lrfinder[tensorboard]'``); imported only here, only
when such a file is loaded."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._columns import join_by_step, last_per_step
from ._errors import ResultFileError

EVENTS_MARK = "tfevents"
LR_TAGS = ("lr", "learning_rate", "train/lr", "lr/train", "train/learning_rate", "train_lr")
LOSS_TAGS = ("loss", "train_loss", "train/loss", "loss/train", "training_loss", "train_loss_step")


def is_events(path: Path) -> bool:
    """Whether ``path`` is an event file, or a folder holding one (a TensorBoard run)."""
    if path.is_dir():
        return any(EVENTS_MARK in p.name for p in path.iterdir() if p.is_file())
    return EVENTS_MARK in path.name


def _pick(tags: Sequence[str], given: str | None, names: Sequence[str], what: str) -> str:
    flag = f"--{what}-col"
    if given is not None:
        if given not in tags:
            raise ResultFileError(
                f"No scalar tag {given!r} ({flag}) in these events. Tags: {list(tags)}"
            )
        return given
    lowered = {t.lower(): t for t in tags}
    exact = [lowered[n] for n in names if n in lowered]
    if what == "lr" and not exact:  # Lightning's TensorBoardLogger: lr-SGD, lr-Adam/pg1
        exact = [
            t for t in tags if t.lower().startswith("lr-") and not t.lower().endswith("momentum")
        ]
    if len(exact) == 1 or (exact and what == "loss"):
        return exact[0]
    found = "several: " + ", ".join(exact) if exact else "none of " + ", ".join(names)
    raise ResultFileError(
        f"Which scalar tag is the {what}? Found {found} among {list(tags)}; name it with "
        f"{flag} ({what}_col= in Python)."
    )


def read_events(
    path: Path, *, lr_col: str | None, loss_col: str | None, max_bytes: int
) -> dict[str, Any]:
    """``lrs`` and ``losses`` from the scalars of a TensorBoard run, joined by step."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise ResultFileError(
            f"{path} is a TensorBoard event file; reading it needs tensorboard: "
            "pip install 'lrfinder[tensorboard]' (or export the two scalars as CSV and pass "
            "--lr LR.csv --loss LOSS.csv)."
        ) from None
    files = [p for p in path.iterdir() if EVENTS_MARK in p.name] if path.is_dir() else [path]
    size = sum(os.stat(p).st_size for p in files)
    if size > max_bytes:
        raise ResultFileError(f"{path} is larger than any range test ({size} bytes).")
    events = EventAccumulator(str(path), size_guidance={"scalars": 0})
    try:
        events.Reload()
    except Exception as exc:  # tensorboard raises its own errors for a damaged file
        raise ResultFileError(f"Cannot read the TensorBoard events {path}: {exc}") from None
    tags = list(events.Tags().get("scalars", []))
    if not tags:
        raise ResultFileError(
            f"No scalar was logged in {path}: log the rate and the loss with "
            "SummaryWriter.add_scalar, or point at the run's folder."
        )
    lr_tag = _pick(tags, lr_col, LR_TAGS, "lr")
    loss_tag = _pick(tags, loss_col, LOSS_TAGS, "loss")
    series = []
    for tag in (lr_tag, loss_tag):
        scalars = events.Scalars(tag)
        steps = np.array([e.step for e in scalars], dtype=float)
        values = np.array([e.value for e in scalars], dtype=float)
        series.append(last_per_step(steps, values))
    return join_by_step(series[0], series[1])
