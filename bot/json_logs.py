"""Log lines as JSON objects, for log collectors (``NOTICEBOT_LOG_FORMAT=json``);
imported only when asked for, so other commands start without its library."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pythonjsonlogger.json import JsonFormatter


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line (python-json-logger); ``clean`` is applied to the
    finished line, traceback field included (the redaction: no token character needs
    escaping in JSON, and a held secret is also looked for as JSON escapes it; what
    replaces a secret needs no escaping either, so the line stays valid)."""

    def __init__(self, clean: Callable[[str], str]) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
        self.clean = clean

    def format(self, record: logging.LogRecord) -> str:
        return self.clean(super().format(record))
