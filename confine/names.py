"""Nearest valid name for an unknown one: the "did you mean" of every validation message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: How close a name must be to be suggested (:func:`difflib.get_close_matches`).
CUTOFF = 0.5


def nearest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name closest to ``name``, or None when none is close enough.

    Args:
        name: the unknown name as written.
        valid: the names it could have meant.
    """
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=CUTOFF)
    return match[0] if match else None


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest valid name, or "" when none is close."""
    match = nearest(name, valid)
    return f" (did you mean '{match}'?)" if match is not None else ""
