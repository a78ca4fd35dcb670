"""What a tracker records of a range test or a race, before any tracker library is involved.

A range test's x axis is its step (an integer, as every tracker wants); the rate is a series of
its own beside the losses, so a tracker's chart of ``lr`` against the step, or of ``loss``
against ``lr``, reads the same curve as :func:`lrfinder.plot_result`. A race's x axes are the
candidate (for its rate) and the round (for the held-out losses). The writers in this package
turn these records into each tracker's calls; this module is pure and imports no tracker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core._errors import LRFinderError, NoSuggestionError
from .._core._registry import DEFAULT_METHOD, Suggestion
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest_all
from .._tuning._race_result import TuneResult

Cell = float | int | str | None


@dataclass(frozen=True)
class Series:
    """One logged series: ``values[i]`` at the integer ``steps[i]`` of the axis named ``axis``
    (``"lrfinder/step"``, ``"lrfinder/race/round"``)."""

    tag: str
    axis: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Table:
    """A small table (the suggestions, the race's rounds): column names and rows of cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def markdown(self) -> str:
        """The table in Markdown, as TensorBoard's text tab and MLflow's artifact view show it."""

        def cell(value: Cell) -> str:
            if value is None:
                return "-"
            if isinstance(value, float):
                return "diverged" if value == math.inf else f"{value:.4g}"
            return str(value).replace("|", "/").replace("\n", " ")

        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "---|" * len(self.columns),
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows),
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Records:
    """Everything one result logs, tracker-neutral.

    Attributes:
        prefix: the start of every name (``"lrfinder"``, ``"lrfinder/race"``).
        series: the curves, each on an integer axis.
        summary: single numbers (the suggested rates, the winner), each with the step of its
            axis it belongs to (a suggestion's step on the curve; 0 for the race's numbers).
        settings: the settings, flattened to one name each, as plain JSON values (W&B's config
            keeps their types); :attr:`params` has them as strings.
        tables: the suggestions, the race's rounds.
        documents: the result as lrfinder's own JSON (``RangeTestResult.load`` and
            ``TuneResult.load`` read it back), by file name.
    """

    prefix: str
    series: tuple[Series, ...] = ()
    summary: Mapping[str, tuple[float, int]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)
    documents: Mapping[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        """The settings as strings, as MLflow's params and TensorBoard's text hold them."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.settings.items()}

    def axes(self) -> dict[str, list[Series]]:
        """The series grouped by their axis, in the order they first appear."""
        out: dict[str, list[Series]] = {}
        for s in self.series:
            out.setdefault(s.axis, []).append(s)
        return out


def _check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not prefix.strip("/") or prefix != prefix.strip("/ "):
        raise LRFinderError(
            "`prefix` must be a non-empty name without a leading or trailing '/' or space, "
            f"such as 'lrfinder' or 'lr_find/run1'. Received: prefix={prefix!r}"
        )
    return prefix


def _finite(tag: str, axis: str, steps: Any, values: Any) -> Series | None:
    """The series at its finite values only: trackers plot NaN and inf badly or refuse them."""
    pairs = [(int(s), float(v)) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
    if not pairs:
        return None
    return Series(tag, axis, tuple(s for s, _ in pairs), tuple(v for _, v in pairs))


def _flatten(settings: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}/{key}"))
        else:
            out[f"{prefix}/{key}"] = value
    return out


def range_records(result: RangeTestResult, *, prefix: str = "lrfinder") -> Records:
    """The records of one range test: its curve, every rule's suggestion, its settings."""
    if not isinstance(result, RangeTestResult):
        raise LRFinderError(
            "`result` must be a RangeTestResult (from find_lr) or a TuneResult (from tune_lr). "
            f"Received a {type(result).__name__}"
        )
    prefix = _check_prefix(prefix)
    steps = range(result.steps)
    candidates: list[Series | None] = [
        _finite(f"{prefix}/lr", f"{prefix}/step", steps, result.lrs),
        _finite(f"{prefix}/loss", f"{prefix}/step", steps, result.losses),
        _finite(f"{prefix}/smoothed_loss", f"{prefix}/step", steps, result.smoothed_losses),
    ]
    if result.val_losses is not None:
        candidates.append(_finite(f"{prefix}/val_loss", f"{prefix}/step", steps, result.val_losses))
    if result.group_lrs.shape[1] > 1:
        candidates += [
            _finite(f"{prefix}/lr_group_{g}", f"{prefix}/step", steps, result.group_lrs[:, g])
            for g in range(result.group_lrs.shape[1])
        ]
    series = tuple(s for s in candidates if s is not None)

    suggestions = quiet_suggest_all(result)
    summary = {
        f"{prefix}/suggested_lr/{name}": (s.lr, s.index)
        for name, s in suggestions.items()
        if isinstance(s, Suggestion)
    }
    rows: list[tuple[Cell, ...]] = []
    for name, s in suggestions.items():
        if isinstance(s, NoSuggestionError):
            rows.append((name, None, None, None, None, None, f"no suggestion: {s}", ""))
        else:
            rows.append(
                (
                    name + (" (default)" if name == DEFAULT_METHOD else ""),
                    s.lr,
                    s.index,
                    s.low,
                    s.high,
                    s.confidence,
                    s.reason,
                    " ".join(s.warnings),
                )
            )
    table = Table(
        ("method", "lr", "step", "low", "high", "confidence", "reason", "warnings"), tuple(rows)
    )
    settings = {
        f"{prefix}/stop_reason": result.stop_reason,
        f"{prefix}/steps": result.steps,
        **_flatten(dict(result.settings), f"{prefix}/settings"),
    }
    document = json.dumps(result.to_dict(), indent=1, allow_nan=False)
    return Records(
        prefix=prefix,
        series=series,
        summary=summary,
        settings=settings,
        tables={"suggestions": table},
        documents={"range_test.json": document},
    )


def race_records(result: TuneResult, *, prefix: str = "lrfinder") -> Records:
    """The records of a race: the candidates, every round's held-out losses, the winner, and
    the range test the candidates came from (under ``<prefix>/range_test``)."""
    if not isinstance(result, TuneResult):
        raise LRFinderError(
            f"`result` must be a TuneResult (from tune_lr). Received a {type(result).__name__}"
        )
    prefix = _check_prefix(prefix)
    race = f"{prefix}/race"
    rates = result.rates
    rounds = range(len(result.rounds))
    series: list[Series | None] = [
        _finite(f"{race}/candidate_lr", f"{race}/candidate", range(len(rates)), rates),
        _finite(f"{race}/round_steps", f"{race}/round", rounds, [r.steps for r in result.rounds]),
    ]
    for k in range(len(rates)):
        losses = [r.losses[k] for r in result.rounds]
        series.append(_finite(f"{race}/held_out_loss/{k}", f"{race}/round", rounds, losses))
    winner = rates.index(result.lr)
    summary = {
        f"{race}/lr": (result.lr, 0),
        f"{race}/winner": (float(winner), 0),
        f"{race}/confidence": (result.confidence, 0),
        f"{race}/trainings": (result.trainings, 0),
        f"{race}/steps_spent": (float(result.steps_spent), 0),
    }
    rows = []
    for k, rate in enumerate(rates):
        losses = [r.losses[k] for r in result.rounds]
        rows.append(
            (
                k,
                rate,
                *(None if np.isnan(v) else v for v in losses),
                "winner" if k == winner else "",
            )
        )
    columns = (
        "candidate",
        "lr",
        *(f"round {i} ({r.steps} steps)" for i, r in enumerate(result.rounds)),
        "",
    )
    settings = {
        f"{race}/for_schedule": result.for_schedule,
        f"{race}/budget_steps": result.budget_steps,
        f"{race}/reason": result.reason,
        f"{race}/warnings": " ".join(result.warnings),
        **_flatten(dict(result.settings), f"{race}/settings"),
    }
    records = Records(
        prefix=prefix,
        series=tuple(s for s in series if s is not None),
        summary=summary,
        settings=settings,
        tables={"race": Table(columns, tuple(rows))},
        documents={"race.json": json.dumps(result.to_dict(), indent=1, allow_nan=False)},
    )
    if result.range_test is None:
        return records
    inner = range_records(result.range_test, prefix=f"{prefix}/range_test")
    return Records(
        prefix=prefix,
        series=records.series + inner.series,
        summary={**records.summary, **inner.summary},
        settings={**records.settings, **inner.settings},
        tables={**records.tables, **{f"range_test/{k}": v for k, v in inner.tables.items()}},
        documents=records.documents,  # race.json holds the range test too
    )


def records(result: RangeTestResult | TuneResult, *, prefix: str = "lrfinder") -> Records:
    """:func:`range_records` or :func:`race_records`, by the type of ``result``."""
    if isinstance(result, TuneResult):
        return race_records(result, prefix=prefix)
    return range_records(result, prefix=prefix)
