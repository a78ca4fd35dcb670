"""One name for each schedule, the same everywhere: the command line (``lrfinder schedule
NAME``), ``schedule_from(result, NAME)``, ``for_schedule=NAME`` and the factory in
``lrfinder.schedules`` that builds it.

The name of a schedule is the name of its factory (``cosine_annealing``, ``one_cycle``...), or
the ``mode`` of :func:`~lrfinder.schedules.cyclic` for the cyclical ones, since a function's name
is the one spelling that cannot have aliases. The shorter names used before stay accepted;
docs/cli.md lists them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import LRFinderError

SCHEDULE_NAMES: tuple[str, ...] = (
    "constant",
    "step_decay",
    "multistep_decay",
    "exponential_decay",
    "cosine_annealing",
    "cosine_warm_restarts",
    "triangular",
    "triangular2",
    "exp_range",
    "one_cycle",
)
# The names of earlier releases: the command line's short ones and for_schedule's "onecycle".
SCHEDULE_ALIASES: dict[str, str] = {
    "step": "step_decay",
    "multistep": "multistep_decay",
    "exponential": "exponential_decay",
    "cosine": "cosine_annealing",
    "warm_restarts": "cosine_warm_restarts",
    "onecycle": "one_cycle",
}


def canonical_schedule(name: str) -> str:
    """``name``'s one spelling: an alias becomes the name it stands for, any other string is
    returned as it is (``-`` and capitals are read as ``_`` and lower case)."""
    if not isinstance(name, str):
        return name
    key = name.strip().lower().replace("-", "_")
    return SCHEDULE_ALIASES.get(key, key if key in SCHEDULE_NAMES else name)


def schedule_name(name: str, allowed: Sequence[str], *, what: str) -> str:
    """The canonical name of ``name``, which must be one of ``allowed`` (or an alias of one)."""
    canonical = canonical_schedule(name)
    if canonical not in allowed:
        old = sorted(a for a, c in SCHEDULE_ALIASES.items() if c in allowed)
        also = f" (or the older {', '.join(old)})" if old else ""
        raise LRFinderError(
            f"`{what}` must be one of {', '.join(allowed)}{also}. Received: {what}={name!r}"
        )
    return canonical
