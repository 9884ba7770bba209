"""Keywords as residents type them after /subscribe and /search, and as a feed's
category must be to be one of them: apart at spaces and at the commas and
semicolons a Chinese keyboard types, quotes dropped."""

from __future__ import annotations

import re

_KEYWORD_GAP = re.compile(r"[\s，、,;；/／|｜。]+")
_QUOTES = "“”‘’「」『』\"'"


def keywords(text: str) -> tuple[str, ...]:
    """``停水，停电`` → ``("停水", "停电")``: each word once, in the order given."""
    words = (word.strip(_QUOTES) for word in _KEYWORD_GAP.split(text))
    return tuple(dict.fromkeys(word for word in words if word))
