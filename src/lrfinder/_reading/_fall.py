"""The default suggestion, ``fall``: where the smoothed loss has done most of its fall.

Chosen against grid search on the quality benchmark (benchmarks/quality, BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from .._core._errors import LRFinderError, NoSuggestionError
from .._core._names import canonical_schedule
from .._core._registry import Suggestion, register
from .._core._result import RangeTestResult
from .._core._smoothing import ema
from ._curve import (
    MIN_POINTS,
    _Curve,
    _descending_part,
    finite_part,
    loss_scale,
    read_curve,
    smoothing_span,
)

# `fall` reads the rate at which the smoothed loss has done FALL_FRACTION of its fall, then
# shifts it by OFFSET decades, both per use. Both were chosen on the development half of the
# quality benchmark only (benchmarks/quality, BENCHMARKS.md): the fraction among 50..95% and the
# lowest points and fastest-descent rules, the offset in steps of 0.05 decades, by mean regret.
# The peak of a one-cycle schedule is held only briefly, so it tolerates a rate further down the
# fall: 95% with no offset had both a lower regret and a smaller distance than 90% + 0.1 there.
FALL_FRACTION = {"constant": 0.9, "one_cycle": 0.95}
OFFSET = {"constant": -0.05, "one_cycle": 0.0}
# ...and never closer than MARGIN decades below the lowest point of the curve (x1/4 for a constant
# rate, x1/2 for a one-cycle peak). Where the loss turns from a steep fall straight into the
# blow-up (plain MLPs under SGD+momentum), the lowest point is cut short by the instability, so
# 90% of that truncated fall sits at the edge of it; trained for a whole budget, such a rate
# diverges. Chosen on the development half (constant: lowest regret, ties by distance; one-cycle:
# the development half could not tell 0 to 0.3 apart, half the constant margin was taken) and
# checked on setups added afterwards (BENCHMARKS.md, "Third round").
MARGIN = {"constant": 0.6, "one_cycle": 0.3}
# The range: from where the fall is this far done, up to the lowest point.
RANGE_FROM = 0.5


def _crossing(curve: _Curve, fraction: float) -> float:
    """log10 of the first rate where the smoothed loss has done ``fraction`` of its fall,
    interpolated between the two steps around it."""
    target = curve.start - fraction * curve.drop
    smooth = curve.smooth[: curve.argmin + 1]
    i = int(np.argmax(smooth <= target))
    logs = curve.log_lrs
    if i == 0:
        return float(logs[0])
    above, below = float(smooth[i - 1]), float(smooth[i])
    t = (above - target) / (above - below) if above > below else 1.0
    return float(logs[i - 1] + min(max(t, 0.0), 1.0) * (logs[i] - logs[i - 1]))


def _confidence(curve: _Curve) -> float:
    """0..1: how deep the fall is against the noise, times how many steps it was sampled at."""
    snr = curve.drop / curve.noise if curve.noise > 0 else 100.0
    steps = abs(_crossing(curve, 0.9) - _crossing(curve, 0.1))
    per_step = abs(float(curve.log_lrs[-1] - curve.log_lrs[0])) / max(curve.lrs.size - 1, 1)
    sampled = steps / per_step if per_step > 0 else 0.0
    value = (1.0 - np.exp(-snr / 3.0)) * min(1.0, sampled / 10.0)
    return float(value) * (0.5 if curve.warnings else 1.0)


@register("fall")
def _fall(result: RangeTestResult, *, for_schedule: str = "constant") -> Suggestion:
    """The rate at which the smoothed loss has done 90% of its fall from its starting level to
    its lowest point (95% for the peak of a one-cycle schedule), shifted by a per-use offset, and
    at most a quarter of the rate at the lowest point (half for a one-cycle peak); all measured
    on the quality benchmark.

    Unlike the lowest point (which sits at the edge of the blow-up and moves with the noise) and
    the steepest descent (which reads a derivative, noisier still), this crossing is read off the
    smoothed loss itself, inside the part of the curve where training still works.
    """
    for_schedule = canonical_schedule(for_schedule)
    if for_schedule not in OFFSET:
        raise LRFinderError(
            f"`for_schedule` must be one of {', '.join(OFFSET)}. "
            f"Received: for_schedule={for_schedule!r}"
        )
    try:
        curve = read_curve(result)
    except NoSuggestionError as flat:
        if not str(flat).startswith("The curve is flat"):
            raise
        return _below_blowup(result, flat)
    _descending_part(curve, "fall")
    fraction = FALL_FRACTION[for_schedule]
    log_lr = _crossing(curve, fraction) + OFFSET[for_schedule]
    lowest = float(curve.log_lrs[curve.argmin])
    capped = log_lr > lowest - MARGIN[for_schedule]
    lowest_loss = float(curve.smooth[curve.argmin]) * curve.scale
    reason = (
        f"the smoothed loss has done {fraction:.0%} of its fall "
        f"({curve.start * curve.scale:.4g} to {lowest_loss:.4g})"
    )
    if capped:
        reason = (
            f"{1 / 10 ** MARGIN[for_schedule]:.2g} x the rate at the lowest smoothed loss "
            f"({10**lowest:.3g}), a cap: {reason} only at {10**log_lr:.3g}, too close to "
            + ("the blow-up" if result.stop_reason in ("diverged", "nonfinite") else "that point")
        )
        log_lr = lowest - MARGIN[for_schedule]
    else:
        reason += " here"
    log_lr = min(max(log_lr, float(curve.log_lrs[0])), float(curve.log_lrs[-1]))
    lr = float(10**log_lr)
    index = max(int(np.searchsorted(curve.lrs, lr, side="right")) - 1, 0)
    low = min(float(10 ** _crossing(curve, RANGE_FROM)), lr)
    high = max(float(curve.lrs[curve.argmin]), lr)
    return Suggestion(
        lr=lr,
        index=index,
        method="fall",
        reason=f"{reason}; for a {for_schedule} schedule",
        low=low,
        high=high,
        confidence=_confidence(curve),
        warnings=curve.warnings,
    )


# When the loss never visibly falls, Smith's advice still applies: the largest usable rate is
# just before the blow-up and a safe one is 1-2 decades below it.
BLOWUP_DECADES = 2.0


def _below_blowup(result: RangeTestResult, flat: NoSuggestionError) -> Suggestion:
    """A low-confidence rate for a curve that is flat and then blows up, or ``flat`` raised."""
    lrs, losses, stop, dropped = finite_part(result)
    if stop < MIN_POINTS:
        raise flat
    lrs, raw = lrs[:stop], losses[:stop]
    raw = raw / loss_scale(raw)  # exact: a power of two, 1 unless the losses would overflow
    plateau = raw[: stop // 2]
    level = float(np.median(plateau))
    noise = 1.4826 * float(np.median(np.abs(plateau - level)))
    span = smoothing_span(stop)
    # Clipped first, so the blow-up's huge values cannot leak back through the centred average.
    ceiling = level + 4.0 * max(noise, 1e-12)
    smooth = ema(np.minimum(raw, ceiling), 1.0 - 2.0 / (span + 1.0), centred=True)
    rising = np.flatnonzero(smooth > level + 2.0 * max(noise, 1e-12))
    rising = rising[rising >= stop // 2]
    if rising.size == 0:
        raise flat
    edge = float(lrs[int(rising[0])])
    lr = edge / 10**BLOWUP_DECADES
    if lr < lrs[0]:
        raise flat
    index = max(int(np.searchsorted(lrs, lr, side="right")) - 1, 0)
    return Suggestion(
        lr=lr,
        index=index,
        method="fall",
        reason=(
            f"the loss never clearly fell; {BLOWUP_DECADES:g} decades below where it starts "
            f"to rise ({edge:.3g})"
        ),
        low=max(lr / 10, float(lrs[0])),
        high=edge / 10,
        confidence=0.1,
        warnings=(
            f"Flat curve: the loss did not clearly fall before rising at {edge:.3g}. The rate "
            "is a safe guess below the blow-up, not a reading of the fall; sweep with more "
            "`num_steps` or check the model trains at all.",
            *dropped,
        ),
    )
