"""The exceptions lrfinder raises: every one is an :class:`LRFinderError` (a ``ValueError``)."""

from __future__ import annotations


class LRFinderError(ValueError):
    """Base class of every error lrfinder raises on bad input or an unusable curve."""


class NoSuggestionError(LRFinderError):
    """No usable rate on this curve; the message says why and what to change."""


class ResultFileError(LRFinderError):
    """A saved result could not be read: malformed, hostile or of an unknown version."""
