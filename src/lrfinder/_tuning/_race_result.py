"""The result of a race: the candidates, every round's held-out losses, the winner and its cost.

A frozen record that saves to and loads from JSON (never pickle), checked field by field on load.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .._core._display import html, present
from .._core._errors import LRFinderError, ResultFileError
from .._core._files import read_text
from .._core._registry import Suggestion
from .._core._result import RangeTestResult, check_header

TUNE_FORMAT = "lrfinder.TuneResult"
TUNE_VERSION = 1
# A race with its range test is a few kilobytes; anything this large is refused before parsing.
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class RaceRound:
    """One round of a race: every candidate that ran trained ``steps`` steps from the snapshot.

    Attributes:
        steps: the steps each candidate of this round trained.
        losses: one per candidate rate (in the order of :attr:`TuneResult.rates`): the held-out
            loss, ``inf`` where the trial diverged (returned NaN or inf), NaN where the candidate
            was not raced in this round.
        resumed: whether each candidate went on from where its trial of the round before
            stopped (a constant rate, whose first steps are the shorter trial's), training only
            the steps in between, instead of all ``steps`` from the snapshot.
    """

    steps: int
    losses: tuple[float, ...]
    resumed: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise LRFinderError(
                f"A round's `steps` must be an integer of at least 1. Received: {self.steps!r}"
            )
        try:
            losses = tuple(float(v) for v in self.losses)
        except (TypeError, ValueError):
            raise LRFinderError(
                f"A round's losses must be numbers. Received: {self.losses!r}"
            ) from None
        if any(v == -math.inf for v in losses):
            raise LRFinderError("A round's losses may not be -inf (a diverged trial is +inf).")
        if not isinstance(self.resumed, bool):
            raise LRFinderError(
                f"A round's `resumed` must be True or False. Received: {self.resumed!r}"
            )
        object.__setattr__(self, "losses", losses)

    @property
    def raced(self) -> np.ndarray:
        """Which candidates ran in this round."""
        return ~np.isnan(np.array(self.losses, dtype=float))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RaceRound):
            return NotImplemented
        return (
            self.steps == other.steps
            and self.resumed == other.resumed
            and np.array_equal(np.array(self.losses), np.array(other.losses), equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class TuneResult:
    """What :func:`lrfinder.tune_lr` measured and chose.

    Attributes:
        lr: the winning rate: the lowest held-out loss in the last round.
        rates: the candidate rates, ascending.
        rounds: one :class:`RaceRound` per round, in the order they ran.
        budget_steps: the steps of the last round (the training the race stands in for).
        reason: one sentence on why this rate.
        confidence: 0..1: how clearly the winner beat the runner-up (see ``lrfinder._race``).
        warnings: reasons to distrust the winner, if any.
        range_test: the range test the candidates came from, or None for explicit rates.
        for_schedule: how the rate is used: ``"constant"``, ``"one_cycle"`` (the peak) or the name
            of the caller's schedule.
        settings: how the race ran (plain JSON data).
    """

    lr: float
    rates: tuple[float, ...]
    rounds: tuple[RaceRound, ...]
    budget_steps: int
    reason: str
    confidence: float
    warnings: tuple[str, ...] = ()
    range_test: RangeTestResult | None = None
    for_schedule: str = "constant"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rates = tuple(float(r) for r in self.rates)
        if len(rates) < 1 or not all(math.isfinite(r) and r > 0 for r in rates):
            raise LRFinderError(
                f"`rates` must be finite numbers above 0. Received: rates={self.rates!r}"
            )
        if any(b <= a for a, b in itertools.pairwise(rates)):
            raise LRFinderError(f"`rates` must be ascending and distinct. Received: {rates!r}")
        rounds = tuple(self.rounds)
        if not rounds or not all(isinstance(r, RaceRound) for r in rounds):
            raise LRFinderError("`rounds` must hold one RaceRound or more.")
        if any(len(r.losses) != len(rates) for r in rounds):
            raise LRFinderError(
                f"Every round needs one loss per rate ({len(rates)}). "
                f"Received: {[len(r.losses) for r in rounds]}"
            )
        if rounds[0].resumed or any(
            b.resumed and b.steps <= a.steps for a, b in itertools.pairwise(rounds)
        ):
            raise LRFinderError(
                "A resumed round goes on from the round before it: never the first round, and "
                f"always longer. Received: rounds={[(r.steps, r.resumed) for r in rounds]}"
            )
        if float(self.lr) not in rates:
            raise LRFinderError(f"`lr` must be one of `rates`. Received: lr={self.lr!r}")
        steps = self.budget_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise LRFinderError(
                f"`budget_steps` must be an integer of at least 1. Received: {steps!r}"
            )
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise LRFinderError(
                f"`confidence` must be in 0..1. Received: confidence={self.confidence!r}"
            )
        if not isinstance(self.for_schedule, str) or not self.for_schedule:
            raise LRFinderError(
                f"`for_schedule` must be a schedule's name. Received: {self.for_schedule!r}"
            )
        if self.range_test is not None and not isinstance(self.range_test, RangeTestResult):
            raise LRFinderError(
                "`range_test` must be a RangeTestResult or None. "
                f"Received a {type(self.range_test).__name__}"
            )
        try:
            settings = json.loads(json.dumps(dict(self.settings), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise LRFinderError(f"`settings` must be plain JSON data. Received: {exc}") from None
        for name, value in (
            ("lr", float(self.lr)),
            ("rates", rates),
            ("rounds", rounds),
            ("confidence", float(self.confidence)),
            ("warnings", tuple(str(w) for w in self.warnings)),
            ("settings", MappingProxyType(settings)),
        ):
            object.__setattr__(self, name, value)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # For copy.deepcopy and other processes, as RangeTestResult's: rebuilt from its fields.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _rebuild, ({**values, "settings": dict(self.settings)},)

    # -- views -------------------------------------------------------------------------------
    @property
    def trial_steps(self) -> int:
        """The steps the race's trials trained, all rounds together (a resumed round counts only
        the steps past the round before)."""
        total, before = 0, 0
        for r in self.rounds:
            total += (r.steps - before if r.resumed else r.steps) * int(r.raced.sum())
            before = r.steps
        return total

    @property
    def steps_spent(self) -> int:
        """Every training step the answer cost: the trials plus the range test's steps."""
        return self.trial_steps + (0 if self.range_test is None else self.range_test.steps)

    @property
    def trainings(self) -> float:
        """The cost in trainings of ``budget_steps``: ``steps_spent / budget_steps``."""
        return self.steps_spent / self.budget_steps

    @property
    def finalists(self) -> tuple[float, ...]:
        """The rates that ran in the last round and did not diverge."""
        last = np.array(self.rounds[-1].losses)
        return tuple(r for r, v in zip(self.rates, last, strict=True) if np.isfinite(v))

    @property
    def suggestion(self) -> Suggestion:
        """The winner as a :class:`lrfinder.Suggestion` (``method="race"``); ``low`` and
        ``high`` span the finalists. ``index`` points into the range test (0 without one)."""
        index = 0
        if self.range_test is not None:
            lrs = self.range_test.lrs
            index = max(int(np.searchsorted(lrs, self.lr, side="right")) - 1, 0)
        finalists = self.finalists or (self.lr,)
        return Suggestion(
            lr=self.lr,
            index=index,
            method="race",
            reason=self.reason,
            low=min(finalists),
            high=max(finalists),
            confidence=self.confidence,
            warnings=self.warnings,
        )

    def __repr__(self) -> str:
        return (
            f"TuneResult(lr={self.lr:.3g}, rates={len(self.rates)}, rounds={len(self.rounds)}, "
            f"confidence={self.confidence:.2f}, trainings={self.trainings:.2f}, "
            f"warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str | None:
        return html(self)

    def plot(self, **options: Any) -> Any:
        """The race beside its range test, :func:`lrfinder.plot_race`."""
        return present("plot:TuneResult", self, **options)

    def __str__(self) -> str:
        text = (
            f"{self.lr:.3g} (race of {len(self.rates)} rates on held-out loss, "
            f"confidence {self.confidence:.2f}"
        )
        if self.warnings:
            n = len(self.warnings)
            text += f"; {n} warning{'s' if n > 1 else ''}: {' '.join(self.warnings)}"
        return text + ")"

    def to_pandas(self) -> Any:
        """The race as a ``pandas.DataFrame``: one row per candidate and round, with the columns
        ``round``, ``steps``, ``candidate``, ``lr``, ``held_out_loss`` (``inf``: diverged) and
        ``winner``; candidates not raced in a round have no row (pandas is optional)."""
        from .._core._frame import require_pandas

        pd = require_pandas("TuneResult.to_pandas")
        rows = [
            (i, r.steps, k, rate, loss, rate == self.lr)
            for i, r in enumerate(self.rounds)
            for k, (rate, loss) in enumerate(zip(self.rates, r.losses, strict=True))
            if not math.isnan(loss)
        ]
        columns = ["round", "steps", "candidate", "lr", "held_out_loss", "winner"]
        return pd.DataFrame(rows, columns=columns)

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; NaN and inf losses are written as the strings ``"nan"``/``"inf"``."""
        return {
            "format": TUNE_FORMAT,
            "version": TUNE_VERSION,
            "lr": self.lr,
            "rates": list(self.rates),
            "rounds": [
                {"steps": r.steps, "losses": _encode(r.losses)}
                | ({"resumed": True} if r.resumed else {})
                for r in self.rounds
            ],
            "budget_steps": self.budget_steps,
            "reason": self.reason,
            "confidence": self.confidence,
            "warnings": list(self.warnings),
            "range_test": None if self.range_test is None else self.range_test.to_dict(),
            "for_schedule": self.for_schedule,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TuneResult:
        """Rebuild a result from :meth:`to_dict` data, checking every field."""
        check_header(data, kind="race", fmt=TUNE_FORMAT, newest=TUNE_VERSION)
        needed = ("lr", "rates", "rounds", "budget_steps", "reason", "confidence")
        missing = [k for k in needed if k not in data]
        if missing:
            raise ResultFileError(f"A race needs the fields {', '.join(missing)}.")
        rounds = data["rounds"]
        if not isinstance(rounds, list) or not all(
            isinstance(r, dict) and {"steps", "losses"} <= r.keys() for r in rounds
        ):
            raise ResultFileError("`rounds` must be a list of objects with `steps` and `losses`.")
        for key, kind in (("warnings", list), ("settings", dict)):
            if not isinstance(data.get(key, kind()), kind):
                raise ResultFileError(f"`{key}` must be a JSON {kind.__name__}.")
        for key in ("lr", "confidence"):
            if isinstance(data[key], bool) or not isinstance(data[key], (int, float)):
                raise ResultFileError(f"`{key}` must be a number. Received: {data[key]!r}")
        range_test = data.get("range_test")
        try:
            return cls(
                lr=float(data["lr"]),
                rates=tuple(_decode(data["rates"], "rates")),
                rounds=tuple(
                    RaceRound(
                        steps=r["steps"],
                        losses=tuple(_decode(r["losses"], "losses")),
                        resumed=r.get("resumed", False),
                    )
                    for r in rounds
                ),
                budget_steps=data["budget_steps"],
                reason=str(data["reason"]),
                confidence=float(data["confidence"]),
                warnings=tuple(str(w) for w in data.get("warnings", [])),
                range_test=None if range_test is None else RangeTestResult.from_dict(range_test),
                for_schedule=data.get("for_schedule", "constant"),
                settings=data.get("settings", {}),
            )
        except ResultFileError:
            raise
        except LRFinderError as exc:
            raise ResultFileError(f"Invalid race: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the race to ``path`` as JSON."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuneResult:
        """Read a race saved by :meth:`save`. Only JSON is parsed (never pickle), so a hostile
        file can fail to load but cannot run code."""
        path = Path(path)
        text = read_text(path, max_bytes=MAX_FILE_BYTES, what="race")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ResultFileError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _encode(values: tuple[float, ...]) -> list[float | str]:
    return [v if math.isfinite(v) else repr(v) for v in values]


def _decode(values: Any, name: str) -> list[float]:
    if not isinstance(values, list) or not all(
        (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in ("nan", "inf")
        for v in values
    ):
        raise ResultFileError(f"`{name}` must be a list of numbers. Received: {values!r}")
    return [float(v) for v in values]


def _rebuild(fields: dict[str, Any]) -> TuneResult:
    return TuneResult(**fields)
