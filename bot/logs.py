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

from pythonjsonlogger.json import JsonFormatter

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


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object a line (python-json-logger), for log collectors; the token is
    redacted from the finished line, as in text logs (no token character needs
    escaping in JSON, so the line stays valid)."""

    def __init__(self, token: str | None) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.token)


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, REDACTED)
    return _TOKEN_SHAPE.sub(REDACTED, text)


def setup_logging(level: int | str, token: str | None, form: str = "text") -> None:
    """Route every logger through one redacting handler on stderr: text for people,
    ``json`` for machines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingJsonFormatter(token)
        if form == "json"
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", token)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.WARNING if root.level > logging.DEBUG else logging.NOTSET
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(quiet)
