"""When a notice may be read and sent: the time rules every reader and every send share.

A notice is readable (``/latest``, ``/read``, ``/search``, digests, a broadcast's
preview) once it is published (active, or an announcement) and its date has come on
the ledger's clock: a notice dated next week is news next week, and nobody reads it
before the chats it is pushed to. Its sends wait for the same moment, and move with
its date. A digest lists a notice once it became readable: first read by a scan, or
its date, whichever is later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.ledger.states import ACTIVE, ANNOUNCEMENT

READABLE_STATUSES = (ACTIVE, ANNOUNCEMENT)


def readable_sql(alias: str = "a") -> str:
    """SQL that holds for a notice (table alias ``alias``) readers may see; one
    positional parameter: the ledger's time now."""
    return f"{alias}.status IN ('{ACTIVE}', '{ANNOUNCEMENT}') AND {alias}.date <= ?"


def readable_since_sql(alias: str = "a") -> str:
    """SQL: when the notice became readable (a scan first read it, or its date came)."""
    return greater(f"{alias}.first_seen", f"{alias}.date")


def greater(a: str, b: str) -> str:
    """SQL for the greater of two values (neither NULL), as both backends write it."""
    return f"(CASE WHEN {a} >= {b} THEN {a} ELSE {b} END)"


def is_readable(row: Mapping[str, Any], now: float) -> bool:
    """:func:`readable_sql` for an articles row already read."""
    return row["status"] in READABLE_STATUSES and row["date"] <= now


def has_expired(row: Mapping[str, Any], now: float) -> bool:
    """Past its front matter's ``expires``: still readable, marked as expired."""
    return row.get("expires") is not None and row["expires"] <= now


def send_from(now: float, date: float) -> float:
    """When a notice's first send to a chat may go out: now, or at its date."""
    return max(now, date)


# :func:`send_from` for a queued row that holds nothing of its notice yet, after the
# notice's date changed (SQL, in an UPDATE of deliveries; named parameters ``date``
# and ``now``). A row never tried waits for the new date, or goes now when the date
# moved back to the past; a row being retried keeps its backoff but never goes before
# the date; a row due now whose date has passed keeps its place in its chat's queue.
RESCHEDULE = (
    "next_attempt_at = CASE"
    f" WHEN last_error IS NOT NULL THEN {greater('next_attempt_at', ':date')}"
    f" WHEN {greater('next_attempt_at', ':date')} > :now THEN {greater(':now', ':date')}"
    " ELSE next_attempt_at END"
)
