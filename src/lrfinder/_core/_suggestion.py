"""Suggest a rate from one curve or several repeated sweeps, through the registry of rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ._errors import LRFinderError, NoSuggestionError
from ._registry import DEFAULT_METHOD, Suggestion, apply, methods, warn_untrusted
from ._result import RangeTestResult, as_result

# Sweeps whose rates spread more than this (decades, standard deviation) are flagged.
SPREAD_WARN = 0.2


def suggest(
    result: RangeTestResult | tuple[Any, Any] | Sequence[RangeTestResult],
    method: str | None = None,
    *,
    for_schedule: str = "constant",
    **options: Any,
) -> Suggestion:
    """Suggest a learning rate from a range-test curve (or several: one per repeated sweep).

    The default method, ``fall``, is the rate at which the smoothed loss has done 90% of its fall
    from where it started to its lowest point (95% for a one-cycle peak), at most a quarter of
    the rate at that lowest point (half for a one-cycle peak); on the quality
    benchmark (grid search over 13 training setups, ``BENCHMARKS.md``) its rates train with the
    lowest mean regret of all the rules measured, for a constant rate and a one-cycle peak alike.

    Args:
        result: a :class:`RangeTestResult`, an ``(lrs, losses)`` pair, or a list of results from
            repeated sweeps: each is read, the median rate is suggested and ``spread`` says how
            much they disagree.
        method: a name from :func:`methods`; ``None`` uses :data:`DEFAULT_METHOD`.
        for_schedule: how the rate will be used: ``"constant"`` for the whole run, or
            ``"one_cycle"`` as the peak (``max_lr``) of a one-cycle schedule (Smith & Topin 2017).
            Read by ``fall``; other methods suggest one rate for every use.
        **options: passed to the method (e.g. ``window`` for ``sma_derivative``).

    Raises:
        NoSuggestionError: the curve holds no usable rate; the message says why and what to change.

    Warns:
        LRFinderWarning: the curve is not to be trusted as it is (``warnings`` on the suggestion
            say why and what to change); filter it with ``warnings.simplefilter("ignore",
            lrfinder.LRFinderWarning)``.

    Examples:
        >>> import numpy as np
        >>> lrs = np.logspace(-5, 0, 60)
        >>> losses = 1 / (1 + np.exp(4 * (np.log10(lrs) + 2))) + np.where(lrs > 0.1, lrs * 20, 0)
        >>> s = suggest((lrs, losses), "steepest")
        >>> 3e-3 < s.lr < 3e-2
        True
        >>> 3e-3 < suggest((lrs, losses)).lr < 3e-2  # capped: the blow-up follows the fall closely
        True
    """
    return warn_untrusted(quiet_suggest(result, method, for_schedule=for_schedule, **options))


def quiet_suggest(
    result: RangeTestResult | tuple[Any, Any] | Sequence[RangeTestResult],
    method: str | None = None,
    *,
    for_schedule: str = "constant",
    **options: Any,
) -> Suggestion:
    """:func:`suggest` without the :class:`LRFinderWarning`, for callers that report the
    suggestion's warnings themselves (re-finding logs them, the race and the CLI show them)."""
    if isinstance(result, (list, tuple)) and any(isinstance(r, RangeTestResult) for r in result):
        return _combine(
            [apply(as_result(r), method, for_schedule=for_schedule, **options) for r in result]
        )
    if isinstance(result, (list, tuple)) and len(result) != 2:
        raise LRFinderError(
            "Pass a RangeTestResult, an (lrs, losses) pair, or a list of results. "
            f"Received a {type(result).__name__} of length {len(result)}"
        )
    return apply(as_result(result), method, for_schedule=for_schedule, **options)


def _combine(suggestions: list[Suggestion]) -> Suggestion:
    """One suggestion from several sweeps: the median rate, and how far apart they were."""
    logs = np.log10([s.lr for s in suggestions])
    spread = float(np.std(logs))
    middle = suggestions[int(np.argsort(logs)[len(logs) // 2])]
    lr = float(10 ** np.median(logs))
    warnings = list(dict.fromkeys(w for s in suggestions for w in s.warnings))
    if spread > SPREAD_WARN:
        warnings.append(
            f"The {len(suggestions)} sweeps disagree: their rates spread over {spread:.2f} "
            "decades (standard deviation). Use larger batches or more `num_steps`."
        )
    confidences = [s.confidence for s in suggestions if s.confidence is not None]
    confidence = None
    if confidences:
        confidence = float(np.median(confidences)) * float(np.exp(-spread / SPREAD_WARN))
    return replace(
        middle,
        lr=lr,
        reason=f"median of {len(suggestions)} sweeps: {middle.reason}",
        low=float(10 ** np.median(np.log10([s.low for s in suggestions]))),
        high=float(10 ** np.median(np.log10([s.high for s in suggestions]))),
        confidence=confidence,
        warnings=tuple(warnings),
        spread=spread,
    )


def suggest_all(result: RangeTestResult) -> dict[str, Suggestion | NoSuggestionError]:
    """Every registered method's suggestion, or the reason it has none.

    One :class:`LRFinderWarning` (for the default method, else the first with warnings) when
    the curve is not to be trusted: the rules read the same curve, so they share its warnings.
    """
    out = quiet_suggest_all(result)
    flagged = [s for s in out.values() if isinstance(s, Suggestion) and s.warnings]
    if flagged:
        default = out.get(DEFAULT_METHOD)
        pick = default if isinstance(default, Suggestion) and default.warnings else flagged[0]
        warn_untrusted(pick)
    return out


def quiet_suggest_all(result: RangeTestResult) -> dict[str, Suggestion | NoSuggestionError]:
    """:func:`suggest_all` without the :class:`LRFinderWarning`."""
    out: dict[str, Suggestion | NoSuggestionError] = {}
    for name in methods():
        try:
            out[name] = quiet_suggest(result, name)
        except NoSuggestionError as exc:
            out[name] = exc
    return out
