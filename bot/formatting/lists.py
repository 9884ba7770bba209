"""Lists of notices (/latest, /search, the digest): each a bold title, when it was
published, and a link to tap that reads it, in words rather than a bare id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import format_datetime, t
from bot.reading.richtext import RichText


def notice_list(
    title: str, rows: list[dict[str, Any]], lang: str, tz: ZoneInfo, now: float
) -> RichText:
    """``rows`` as the ledger gives them (id, title, date, expires); ``now`` drops the
    year of this year's dates and marks what has expired."""
    today = datetime.fromtimestamp(now, tz)
    rich = RichText(title)
    for row in rows:
        when = format_datetime(datetime.fromtimestamp(row["date"], tz), lang, tz, now=today)
        if row.get("expires") is not None and row["expires"] <= now:  # as has_expired
            when += f" · {t('expired_mark', lang)}"
        rich.append("\n\n").append(row["title"], "bold")
        rich.append(f"\n{when}\n{t('read_link', lang)}/read_{row['id']}")
    return rich
