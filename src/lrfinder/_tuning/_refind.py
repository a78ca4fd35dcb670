"""Re-running the range test during training: when, how far, and how its answer moves the rate.

The best learning rate falls as training proceeds (Smith, "Cyclical Learning Rates for Training
Neural Networks", 2015/2017), so a rate picked once before training goes stale. A
:class:`RefindPolicy` says when to re-run the test (every N epochs or steps, or when a monitored
loss stops improving), sweeps a short range around the current rate instead of the full
1e-7..10, and moves the rate towards the new answer by at most a set factor, so one noisy
re-run cannot derail training. A :class:`Refinder` keeps that state for one training run and
records each re-run with its cost in steps. Nothing here touches a framework: the adapters
(``lrfinder.torch``, ``lrfinder.keras``, ``lrfinder.lightning``, ``lrfinder.huggingface``) run
the test and put the new rate into the optimizer, restoring everything else exactly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._core._checks import is_real
from .._core._errors import LRFinderError, NoSuggestionError
from .._core._find import drive, user_result
from .._core._rangetest import RangeTest
from .._core._registry import methods
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest

logger = logging.getLogger("lrfinder")

Schedule = Callable[[int], float]
TRIGGERS: tuple[str, ...] = ("initial", "epochs", "steps", "plateau", "manual")
READS: tuple[str, ...] = ("suggestion", "relative", "edge")


def _positive(name: str, value: float | None, *, minimum: float = 0.0, strict: bool = True) -> None:
    if value is None:
        return
    ok = is_real(value) and math.isfinite(value)
    if not ok or (value <= minimum if strict else value < minimum):
        bound = f"above {minimum:g}" if strict else f"at least {minimum:g}"
        raise LRFinderError(f"`{name}` must be a finite number {bound}. Received: {name}={value!r}")


def _count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise LRFinderError(
            f"`{name}` must be a positive integer, or None to turn it off. "
            f"Received: {name}={value!r}"
        )


@dataclass(frozen=True)
class RefindPolicy:
    """When to re-run the range test during training and how its answer moves the rate.

    Args:
        every_epochs: re-run after every this many epochs (``None``: never on epochs).
        every_steps: re-run after every this many optimizer steps (``None``: never on steps).
        patience: re-run when the monitored loss has not improved for this many checks in a
            row (``None``: no plateau trigger); the count starts over after each re-run.
        min_delta: an improvement smaller than this fraction of the best loss does not count.
        decades_below: a re-run sweeps from ``lr / 10**decades_below`` to
            ``lr * 10**decades_above`` around the current rate ``lr``.
        decades_above: see ``decades_below``.
        num_steps: the length of each re-run (the sweep stops earlier if the loss diverges).
        initial_start_lr: the start of the full sweep run before training when no starting
            rate is given.
        initial_end_lr: the end of that full sweep.
        initial_num_steps: the length of that full sweep.
        method: the suggestion method read from each re-run's curve (``None``: lrfinder's
            default). ``valley`` re-finds best in the benchmark: a short sweep from trained
            weights is nearly flat and noisy, and the lowest point (``minimum``) wanders with the
            noise.
        initial_method: the suggestion method read from the first, full range test (``None``:
            lrfinder's default, ``fall``, the rule the quality benchmark backs for a full sweep
            from fresh weights; ``valley`` reads such a sweep one to two decades too low).
        max_up: one re-run raises the rate by at most ``max_up`` times; ``max_up=1`` only
            ever lowers it.
        max_down: one re-run lowers the rate by at most ``max_down`` times.
        smoothing: the weight of the old rate in a geometric average with the new answer
            (0: take the answer as is, bounded by ``max_up``/``max_down``; 0.5: go half-way,
            in log space).
        read: how a re-run's curve moves the rate (the first test always sets it to the
            suggestion). ``"suggestion"``: to the re-run's suggestion. ``"relative"``: by the
            factor the suggestion moved since the last test, so a rule's fixed offset
            (``minimum`` divides by 10) does not compound. ``"edge"``: by the factor the rate at
            which the loss diverged moved since the last test: the rate keeps its distance below
            the edge of stability, which a noisy, nearly flat curve from trained weights still
            shows clearly.

    The defaults (the first test read with ``fall``, the re-runs with ``valley``, half-way, at
    most x2 or /2 per re-run, 40 steps over two decades either side) did best over four small
    setups in ``benchmarks/refind`` (see BENCHMARKS.md).

    Examples:
        >>> policy = RefindPolicy(every_epochs=2, max_up=1.0)
        >>> policy.sweep_settings(0.01)["start_lr"]
        0.0001
        >>> policy.bound(0.01, 0.5)  # a re-run may not raise the rate at all
        0.01
    """

    every_epochs: int | None = 1
    every_steps: int | None = None
    patience: int | None = None
    min_delta: float = 1e-3
    decades_below: float = 2.0
    decades_above: float = 2.0
    num_steps: int = 40
    initial_start_lr: float = 1e-7
    initial_end_lr: float = 10.0
    initial_num_steps: int = 100
    method: str | None = "valley"
    max_up: float = 2.0
    max_down: float = 2.0
    smoothing: float = 0.5
    read: str = "suggestion"
    initial_method: str | None = None

    def __post_init__(self) -> None:
        _count("every_epochs", self.every_epochs)
        _count("every_steps", self.every_steps)
        _count("patience", self.patience)
        _positive("min_delta", self.min_delta, strict=False)
        _positive("decades_below", self.decades_below)
        _positive("decades_above", self.decades_above)
        _positive("max_up", self.max_up, minimum=1.0, strict=False)
        _positive("max_down", self.max_down, minimum=1.0, strict=False)
        if self.read not in READS:
            raise LRFinderError(
                f"`read` must be one of {', '.join(READS)}. Received: read={self.read!r}"
            )
        if not is_real(self.smoothing) or not 0.0 <= self.smoothing < 1.0:
            raise LRFinderError(
                f"`smoothing` must be in [0, 1). Received: smoothing={self.smoothing!r}"
            )
        # The sweeps themselves are checked by RangeTest; fail here, at construction, instead.
        RangeTest(start_lr=1.0, end_lr=10.0, num_steps=self.num_steps)
        RangeTest(
            start_lr=self.initial_start_lr,
            end_lr=self.initial_end_lr,
            num_steps=self.initial_num_steps,
        )
        if self.method is not None and self.method not in methods():
            # Checked now, not at the first re-run in the middle of training.
            raise LRFinderError(
                f"Unknown suggestion method {self.method!r}. Choose one of: "
                f"{', '.join(methods())}, or None for lrfinder's default."
            )

    def sweep_settings(self, lr: float | None) -> dict[str, Any]:
        """The sweep of a re-run around rate ``lr``; the full initial sweep when ``lr`` is None."""
        if lr is None:
            return {
                "start_lr": self.initial_start_lr,
                "end_lr": self.initial_end_lr,
                "num_steps": self.initial_num_steps,
            }
        _positive("lr", lr)
        return {
            "start_lr": lr / 10**self.decades_below,
            "end_lr": lr * 10**self.decades_above,
            "num_steps": self.num_steps,
        }

    def bound(self, old: float, found: float) -> float:
        """The next rate: ``found`` averaged with ``old`` (in log space), within the set factors."""
        _positive("old", old)
        _positive("found", found)
        target = math.exp(self.smoothing * math.log(old) + (1.0 - self.smoothing) * math.log(found))
        return min(max(target, old / self.max_down), old * self.max_up)


@dataclass(frozen=True)
class Refind:
    """One run of the range test during training and what it did to the rate.

    Attributes:
        trigger: why it ran: ``initial``, ``epochs``, ``steps``, ``plateau`` or ``manual``.
        epoch, step: the epochs and optimizer steps completed when it ran.
        old_lr: the rate before (``None`` before the initial test).
        found_lr: the curve's suggestion (``None`` when the curve had none: see ``reason``).
        new_lr: the rate after, ``found_lr`` bounded by the policy.
        steps: the training steps the test itself cost (undone afterwards by the adapters).
        reason: the suggestion's reason, or why there was none.
        result: the full curve.
        warnings: the suggestion's reasons to distrust the curve (logged, not raised: the
            policy bounds how far one re-run can move the rate).
    """

    trigger: str
    epoch: int
    step: int
    old_lr: float | None
    found_lr: float | None
    new_lr: float
    steps: int
    reason: str
    result: RangeTestResult = field(repr=False)
    warnings: tuple[str, ...] = ()


class Refinder:
    """The re-finding state of one training run: the current rate, the triggers, the history.

    A loop reports progress with :meth:`epoch_end` and :meth:`step_end`; each returns the trigger
    when a re-run is due. The caller then runs a range test with :meth:`sweep_settings` from the
    current weights (restoring them afterwards), and passes the result to :meth:`update`, which
    returns the new rate. :meth:`run` does both for a framework-free ``step(lr) -> loss``.

    Args:
        policy: when and how to re-run; default :class:`RefindPolicy()`.
        lr: the starting rate (for a schedule: its peak); ``None`` runs the full initial sweep
            first (``trigger="initial"``).

    Examples:
        >>> refinder = Refinder(RefindPolicy(every_epochs=1), lr=0.1)
        >>> refinder.epoch_end(1)
        'epochs'
        >>> refinder.sweep_settings()
        {'start_lr': 0.001, 'end_lr': 10.0, 'num_steps': 40}
    """

    def __init__(self, policy: RefindPolicy | None = None, *, lr: float | None = None) -> None:
        if policy is not None and not isinstance(policy, RefindPolicy):
            raise LRFinderError(
                f"`policy` must be a RefindPolicy. Received: {type(policy).__name__}"
            )
        _positive("lr", lr)
        self.policy = policy or RefindPolicy()
        self.lr = None if lr is None else float(lr)
        self.history: list[Refind] = []
        self._reference: float | None = None  # the last test's reading, for relative reads
        self._best = math.inf
        self._bad = 0
        self._resumed_steps = 0

    @property
    def steps_spent(self) -> int:
        """The training steps spent on range tests so far."""
        return self._resumed_steps + sum(r.steps for r in self.history)

    def sweep_settings(self) -> dict[str, Any]:
        """The next range test's ``start_lr``, ``end_lr`` and ``num_steps``."""
        return self.policy.sweep_settings(self.lr)

    def range_test(self) -> RangeTest:
        """A :class:`RangeTest` for the next re-run, for loops that drive one themselves."""
        return RangeTest(**self.sweep_settings())

    def epoch_end(self, epoch: int, *, metric: float | None = None) -> str | None:
        """Report that ``epoch`` epochs are done (and the monitored loss); the trigger if due."""
        if self.policy.patience is not None:
            if metric is None:
                raise LRFinderError(
                    "A plateau policy (`patience` set) needs the monitored loss at each epoch "
                    "end. Received: metric=None; pass metric=<validation loss>, or set "
                    "patience=None."
                )
            if self._plateaued(float(metric)):
                return "plateau"
        every = self.policy.every_epochs
        return "epochs" if every is not None and epoch > 0 and epoch % every == 0 else None

    def step_end(self, step: int) -> str | None:
        """Report that ``step`` optimizer steps are done; the trigger if a re-run is due."""
        every = self.policy.every_steps
        return "steps" if every is not None and step > 0 and step % every == 0 else None

    def _plateaued(self, metric: float) -> bool:
        # A NaN/inf loss is no progress, and never becomes the best to beat.
        first = math.isinf(self._best)
        if math.isfinite(metric) and (
            first or metric < self._best - self.policy.min_delta * abs(self._best)
        ):
            self._best, self._bad = metric, 0
            return False
        self._bad += 1
        if self._bad >= (self.policy.patience or 0):
            self._bad = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """The state a resumed run needs (plain numbers; the history is not kept)."""
        return {
            "lr": self.lr,
            "reference": self._reference,
            "best": self._best,
            "bad": self._bad,
            "steps_spent": self.steps_spent,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        self.lr, self._reference = state["lr"], state["reference"]
        self._best, self._bad = state["best"], state["bad"]
        self._resumed_steps = int(state["steps_spent"])

    def _read(
        self, result: RangeTestResult, old: float | None
    ) -> tuple[float, str, tuple[str, ...]]:
        """The rate a finished test points at, why, and the suggestion's warnings;
        NoSuggestionError when none. The first test reads with ``initial_method``."""
        read, ref = self.policy.read, self._reference
        if read == "edge" and old is not None and ref is not None:
            if result.stop_reason not in ("diverged", "nonfinite", "completed"):
                raise NoSuggestionError(
                    f"The re-run stopped early ({result.stop_reason}) before the loss diverged. "
                    "Give it data for `num_steps` batches."
                )
            edge = float(result.lrs[-1])
            if result.stop_reason == "completed":  # not reached: the edge is at least end_lr
                edge = max(edge, ref)
            found = old * edge / ref
            self._reference = edge
            return found, f"the loss diverges from {edge:.3g}; the rate keeps its distance", ()
        method = self.policy.initial_method if old is None else self.policy.method
        suggestion = quiet_suggest(result, method)
        warnings = suggestion.warnings
        if read == "edge":
            self._reference = float(result.lrs[-1])
            return suggestion.lr, suggestion.reason, warnings
        if read == "relative" and old is not None and ref is not None:
            found = old * suggestion.lr / ref
            self._reference = suggestion.lr
            reason = f"the suggestion moved to {suggestion.lr:.3g} ({suggestion.reason})"
            return found, reason, warnings
        self._reference = suggestion.lr
        return suggestion.lr, suggestion.reason, warnings

    def update(
        self, result: RangeTestResult, *, trigger: str = "manual", epoch: int = 0, step: int = 0
    ) -> Refind:
        """Read a finished re-run and move the rate; a curve without a suggestion keeps it."""
        if trigger not in TRIGGERS:
            raise LRFinderError(
                f"`trigger` must be one of {', '.join(TRIGGERS)}. Received: trigger={trigger!r}"
            )
        old = self.lr
        found: float | None
        warnings: tuple[str, ...] = ()
        try:
            found, reason, warnings = self._read(result, old)
        except NoSuggestionError as exc:
            if old is None:
                raise NoSuggestionError(
                    f"The initial range test found no rate: {exc} Or start from a rate you choose."
                ) from None
            found, new, reason = None, float(old), str(exc)
            logger.warning("Re-run at step %d found no rate, keeping %.3g: %s", step, old, exc)
        else:
            new = found if old is None else self.policy.bound(old, found)
            logger.info("Range test at step %d: found %.3g, rate %s -> %.3g", step, found, old, new)
            if warnings:
                # The first test sets the rate unbounded; a re-run's move is bounded by the policy.
                log = logger.warning if old is None else logger.info
                log(
                    "Range test at step %d, not to be trusted as it is: %s",
                    step,
                    " ".join(warnings),
                )
        record = Refind(
            trigger=trigger,
            epoch=epoch,
            step=step,
            old_lr=old,
            found_lr=found,
            new_lr=new,
            steps=result.steps,
            reason=reason,
            result=result,
            warnings=warnings,
        )
        self.lr = new
        self.history.append(record)
        return record

    def run(
        self,
        step: Callable[[float], float | None],
        *,
        trigger: str = "manual",
        epoch: int = 0,
        step_count: int = 0,
    ) -> Refind:
        """Run the next range test with ``step(lr) -> loss`` and :meth:`update` from it.

        The caller owns the weights: save them before and restore them after, as
        ``lrfinder.torch.find_lr`` does, or training continues from the test's last step.
        """
        rt = self.range_test()
        drive(rt, step, progress=False)
        return self.update(user_result(rt), trigger=trigger, epoch=epoch, step=step_count)

    def scaled(self, schedule: Schedule, *, peak: float = 1.0) -> Schedule:
        """``schedule`` rescaled so its peak follows the current rate, read at each call.

        The value at ``step`` is ``schedule(step) * lr / peak``, where ``lr`` is the current rate
        and ``peak`` the rate the schedule was written for (1.0 for a shape), so warm-up, decay
        and cycles keep their shape around each new peak that a re-run sets.

        Examples:
            >>> refinder = Refinder(lr=0.1)
            >>> decay = refinder.scaled(lambda step: 1 / (1 + step))  # a shape, peak 1
            >>> refinder.lr = 0.05
            >>> decay(1)
            0.025
        """
        if not callable(schedule):
            raise LRFinderError(
                f"`schedule` must be a callable of the step. Received: {type(schedule).__name__}"
            )
        _positive("peak", peak)

        def rescaled(step: int) -> float:
            if self.lr is None:
                raise LRFinderError(
                    "The schedule has no peak yet: run the initial range test first, or pass `lr`."
                )
            return float(schedule(step)) * self.lr / peak

        return rescaled


def due_at_epoch(
    refinder: Refinder, epochs_done: int, metrics: Mapping[str, Any], monitor: str, fix: str
) -> str | None:
    """The trigger due after ``epochs_done`` epochs, reading ``monitor`` from a trainer's
    ``metrics`` for a plateau policy (``fix`` says how to get it reported)."""
    if epochs_done == 0:
        return None
    metric = None
    if refinder.policy.patience is not None:
        if monitor not in metrics:
            raise LRFinderError(
                f"The plateau policy watches `monitor`={monitor!r}, which was not reported. "
                f"Reported: {sorted(metrics)}. {fix}"
            )
        metric = float(metrics[monitor])
    return refinder.epoch_end(epochs_done, metric=metric)


class RefinderView:
    """``history`` and ``steps_spent`` of an integration's :class:`Refinder` (its
    ``refinder``), so each integration shows them without copying the properties."""

    refinder: Refinder

    @property
    def history(self) -> list[Refind]:
        return self.refinder.history

    @property
    def steps_spent(self) -> int:
        """The steps spent on range tests (undone, but they cost compute)."""
        return self.refinder.steps_spent
