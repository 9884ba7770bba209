"""Logging that never shows the bot token, whatever the level.

httpx logs every request URL at INFO and python-telegram-bot its API URL at
DEBUG; both contain ``bot<token>``. The formatter redacts the configured token
and anything shaped like one, after formatting, so arguments, tracebacks and
exception texts are covered too.
"""

from __future__ import annotations

import logging
import re
import sys

# Libraries that log every request or job run at INFO: a person running the bot needs
# their warnings, not ~6,000 lines a day.
CHATTY = ("httpx", "httpcore", "apscheduler")
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "<token>"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, token: str | None) -> None:
        super().__init__(fmt)
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.token)


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, REDACTED)
    return _TOKEN_SHAPE.sub(REDACTED, text)


def setup_logging(level: int | str, token: str | None) -> None:
    """Route every logger through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", token)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.WARNING if root.level > logging.DEBUG else logging.NOTSET
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(quiet)
