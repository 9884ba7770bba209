"""Durations as people write them in front matter and settings: ``6h``, ``90m``,
``1d12h``, ``45s``, or a bare number of hours."""

from __future__ import annotations

import re

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_WHOLE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[dhms]\s*)+", re.IGNORECASE)


def parse_duration(value: object) -> float | None:
    """Seconds, or None when ``value`` is not a duration (a date, a word, zero)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) * 3600.0
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text) * 3600.0
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(text))
        else:
            return None
    return seconds if 0 < seconds <= 366 * 86400.0 else None
