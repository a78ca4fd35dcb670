"""The range test as a small step-by-step object that any training loop can drive."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from ._checks import is_real
from ._errors import LRFinderError
from ._result import DEFAULT_SMOOTH_BETA, RangeTestResult
from ._sweep import check_sweep, rate_at


def ratios_to_first(base_lrs: Sequence[float], *, what: str, name: str) -> list[float]:
    """Each parameter group's rate as a multiple of the first group's, which the sweep sets.

    ``what`` and ``name`` name the first rate in the error, e.g. "parameter group's `lr`", "lr".
    """
    if not base_lrs[0] > 0:
        raise LRFinderError(
            f"The first {what} sets the ratio of the others and must be above 0. "
            f"Received: {name}={base_lrs[0]!r}"
        )
    return [lr / base_lrs[0] for lr in base_lrs]


class SweepOptions(TypedDict, total=False):
    """The sweep and its stopping rule: the keywords every ``find_lr`` takes, defined once.

    Each adapter's ``find_lr`` (and ``tune_lr``, ``RangeTestCallback``...) takes these as
    keywords, typed through ``**sweep: Unpack[SweepOptions]`` so editors still show each one;
    they go to :class:`RangeTest`, which checks them and documents their defaults.

    Keys:
        start_lr: the rate of the first step, exactly (default 1e-7).
        end_lr: the rate of the last step, exactly, if the loss has not diverged (default 10).
        num_steps: the number of steps of the full sweep (default 100).
        mode: ``"exp"`` (a constant factor per step, the default) or ``"linear"``.
        diverge_threshold: stop when the smoothed loss exceeds this multiple of the best
            (default 4); ``None`` never stops early on divergence (NaN and inf still stop it).
        smooth_beta: the factor of the moving average the stopping rule reads (default 0.95).
    """

    start_lr: float
    end_lr: float
    num_steps: int
    mode: str
    diverge_threshold: float | None
    smooth_beta: float


SWEEP_KEYS = tuple(SweepOptions.__annotations__)


def sweep_options(options: Mapping[str, Any]) -> SweepOptions:
    """``options`` checked to hold sweep keywords only, for ``RangeTest(**sweep_options(...))``."""
    unknown = sorted(set(options) - set(SWEEP_KEYS))
    if unknown:
        raise LRFinderError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"The sweep takes: {', '.join(SWEEP_KEYS)}. Received: "
            + ", ".join(f"{k}={options[k]!r}" for k in unknown)
        )
    return SweepOptions(**options)  # type: ignore[typeddict-item]


class RangeTest:
    """The learning-rate range test (Smith 2015/2017, section 3.3), one step at a time.

    Ask for the rate of the next step, train one step at that rate, record the loss it produced;
    repeat until :attr:`done`. The test stops when the sweep reaches ``end_lr``, when a loss is
    NaN or inf (at once), or when the loss diverges: its causal, debiased moving average rises
    more than ``diverge_threshold`` times the best one seen above it, measured as
    ``smoothed - best > (diverge_threshold - 1) * |best|``. For positive losses this is the
    classic ``smoothed > 4 x best``; unlike that rule it also holds for negative losses.

    Args:
        start_lr: the rate of the first step, exactly.
        end_lr: the rate of the last step, exactly, if the loss has not diverged by then.
        num_steps: the number of steps of the full sweep.
        mode: ``"exp"`` (the rate grows by a constant factor per step) or ``"linear"``.
        diverge_threshold: stop when the smoothed loss exceeds this multiple of the best;
            ``None`` never stops early on divergence (NaN and inf still stop the test).
        smooth_beta: the factor of the moving average the stopping rule reads.
        group_ratios: each parameter group's rate as a multiple of the swept rate; the sweep
            moves every group by the same factor, so their ratios hold.

    Examples:
        >>> rt = RangeTest(start_lr=1e-4, end_lr=1.0, num_steps=5)
        >>> while not rt.done:
        ...     _ = rt.record((rt.lr - 0.1) ** 2)  # one training step at rt.lr, its loss
        >>> rt.result().steps
        5
    """

    def __init__(
        self,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exp",
        diverge_threshold: float | None = 4.0,
        smooth_beta: float = DEFAULT_SMOOTH_BETA,
        group_ratios: Sequence[float] = (1.0,),
    ) -> None:
        check_sweep(start_lr, end_lr, num_steps, mode)
        if diverge_threshold is not None and not (
            is_real(diverge_threshold) and diverge_threshold > 1
        ):
            raise LRFinderError(
                "`diverge_threshold` must be a number above 1, or None to never stop early. "
                f"Received: diverge_threshold={diverge_threshold!r}"
            )
        if not is_real(smooth_beta) or not 0.0 <= smooth_beta < 1.0:
            raise LRFinderError(
                f"`smooth_beta` must be in [0, 1). Received: smooth_beta={smooth_beta!r}"
            )
        ratios = tuple(float(r) if is_real(r) else math.nan for r in group_ratios)
        if not ratios or not all(math.isfinite(r) and r >= 0 for r in ratios):
            raise LRFinderError(
                "`group_ratios` must be one finite, non-negative number per parameter group. "
                f"Received: group_ratios={group_ratios!r}"
            )
        self.group_ratios = ratios
        self.start_lr = float(start_lr)
        self.end_lr = float(end_lr)
        self.num_steps = int(num_steps)
        self.mode = mode
        self.diverge_threshold = None if diverge_threshold is None else float(diverge_threshold)
        self.smooth_beta = float(smooth_beta)
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._avg = 0.0
        self._best = math.inf
        self._stop_reason: str | None = None
        self._started = time.perf_counter()
        # The next step's rate, worked out once per step: a loop reads it several times.
        self._next_lr = self.start_lr
        self._next_group_lrs = tuple(self._next_lr * r for r in ratios)

    @property
    def step(self) -> int:
        """How many steps have been recorded."""
        return len(self._losses)

    @property
    def lr(self) -> float:
        """The rate to train the next step at."""
        return self._next_lr

    @property
    def last_lr(self) -> float:
        """The rate of the last recorded step (NaN before any)."""
        return self._lrs[-1] if self._lrs else math.nan

    @property
    def done(self) -> bool:
        """True once the test has stopped; :attr:`stop_reason` says why."""
        return self._stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def smoothed_loss(self) -> float:
        """The stopping rule's moving average after the last recorded step (NaN before any)."""
        return self._smoothed[-1] if self._smoothed else math.nan

    @property
    def group_lrs(self) -> tuple[float, ...]:
        """The rate of every parameter group for the next step."""
        return self._next_group_lrs

    def group_lrs_at(self, step: int) -> tuple[float, ...]:
        """The rate of every parameter group at step ``step`` (0-based), for a loop that trains
        a step before recording the one before it."""
        lr = rate_at(step, self.start_lr, self.end_lr, self.num_steps, self.mode)
        return tuple(lr * r for r in self.group_ratios)

    def record(self, loss: float) -> bool:
        """Record the loss of the step just trained at :attr:`lr`; return :attr:`done`."""
        if self._stop_reason is not None:
            raise LRFinderError(
                f"The range test has stopped ({self._stop_reason}); no more losses can be recorded."
                " Start a new RangeTest to sweep again."
            )
        loss = float(loss)
        self._lrs.append(self._next_lr)
        self._losses.append(loss)
        lr = self._next_lr = rate_at(
            len(self._losses), self.start_lr, self.end_lr, self.num_steps, self.mode
        )
        ratios = self.group_ratios
        # One group (the common case) needs no generator: lr * 1.0 is lr.
        self._next_group_lrs = (
            (lr * ratios[0],) if len(ratios) == 1 else tuple([lr * r for r in ratios])
        )
        if not math.isfinite(loss):
            self._smoothed.append(math.nan)
            self._stop_reason = "nonfinite"
            return True
        beta = self.smooth_beta
        self._avg = beta * self._avg + (1.0 - beta) * loss
        smoothed = self._avg / (1.0 - beta ** (len(self._smoothed) + 1))
        self._smoothed.append(smoothed)
        if smoothed < self._best:
            self._best = smoothed
        if self.diverge_threshold is not None and smoothed - self._best > (
            self.diverge_threshold - 1.0
        ) * abs(self._best):
            self._stop_reason = "diverged"
        elif len(self._losses) >= self.num_steps:
            self._stop_reason = "completed"
        return self._stop_reason is not None

    def stop(self, reason: str = "stopped") -> None:
        """End the test early: ``"data_exhausted"`` when the data ran out, else ``"stopped"``."""
        if not self.done:
            self._stop_reason = reason

    def settings(self) -> dict[str, Any]:
        return {
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "diverge_threshold": self.diverge_threshold,
            "smooth_beta": self.smooth_beta,
            "group_ratios": list(self.group_ratios),
        }

    def result(
        self,
        *,
        settings: Mapping[str, Any] | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> RangeTestResult:
        """The record so far as a :class:`RangeTestResult` (extra settings/timings merged in)."""
        if not self._losses:
            raise LRFinderError(
                "The range test recorded no step, so there is no result. Check that the data "
                "yields at least one batch."
            )
        all_timings = {"sweep_s": time.perf_counter() - self._started, **(timings or {})}
        lrs = np.array(self._lrs)
        return RangeTestResult(
            lrs=lrs,
            losses=np.array(self._losses),
            smoothed_losses=np.array(self._smoothed),
            stop_reason=self._stop_reason or "stopped",
            group_lrs=lrs[:, None] * np.array(self.group_ratios)[None, :],
            settings={**self.settings(), **(settings or {})},
            timings=all_timings,
        )
