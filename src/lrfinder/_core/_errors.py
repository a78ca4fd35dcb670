"""The exceptions lrfinder raises (every one an :class:`LRFinderError`, a ``ValueError``) and
its warning category, :class:`LRFinderWarning`."""

from __future__ import annotations


class LRFinderError(ValueError):
    """Base class of every error lrfinder raises on bad input or an unusable curve."""


class NoSuggestionError(LRFinderError):
    """No usable rate on this curve; the message says why and what to change."""


class ResultFileError(LRFinderError):
    """A saved result could not be read: malformed, hostile or of an unknown version."""


class LRFinderWarning(UserWarning):
    """A suggestion read from a curve not to be trusted as it is: the message says why and what
    to change. Filter it like any warning: ``warnings.simplefilter("ignore", LRFinderWarning)``."""
