"""Every user-facing string, in Simplified Chinese (default) and English.

One catalog module rather than gettext files: the bot has two languages and a
few dozen strings, and a missing key is a test failure here, not a silent
fallback at run time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_LANG = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "read_full": {"zh": "阅读全文", "en": "Read full text"},
    "original": {"zh": "原文", "en": "Original"},
    "announcement": {"zh": "通知", "en": "Announcement"},
}

_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def t(key: str, lang: str, **values: object) -> str:
    """The string ``key`` in ``lang`` (Chinese when the language is unknown)."""
    texts = MESSAGES[key]
    text = texts.get(lang) or texts[DEFAULT_LANG]
    return text.format(**values) if values else text


def format_datetime(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """``2022年2月1日 16:57`` or ``1 Feb 2022, 16:57`` in the display time zone."""
    local = moment.astimezone(tz)
    if lang == "en":
        return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
