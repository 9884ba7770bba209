"""Copies and moves of a ledger: a consistent backup while the bot runs, and the
subscriptions with their settings as JSON, for a new token or a new server."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.ledger.chats import Chat, Chats
from bot.ledger.states import SENT

EXPORT_FORMAT = "noticebot-subscriptions"
EXPORT_VERSION = 1
SETTINGS = ("language", "mode", "quiet_start", "quiet_end", "digest_time")


class MoveError(ValueError):
    """A backup or an import that cannot be done; the message says why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    bytes: int
    articles: int
    chats: int
    sent: int  # confirmed deliveries the copy holds


def backup(db: Path, target: Path, *, force: bool = False) -> Backup:
    """Copy the ledger with SQLite's online backup API: one consistent snapshot, taken
    while the bot goes on writing (WAL), checked with ``PRAGMA integrity_check``."""
    if not db.is_file():
        raise MoveError(f"{db}: no ledger there")
    if target.exists() and not force:
        raise MoveError(f"{target} exists (use --force to replace it)")
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # all pages in one step: one read transaction, one snapshot
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise MoveError(f"the copy failed its integrity check: {check}")
        counts = [
            copy.execute(sql).fetchone()[0]
            for sql in (
                "SELECT COUNT(*) FROM articles",
                "SELECT COUNT(*) FROM chats WHERE subscribed = 1",
                f"SELECT COUNT(*) FROM deliveries WHERE status = '{SENT}'",
            )
        ]
    finally:
        copy.close()
        source.close()
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, *counts)


def export_subscriptions(chats: list[Chat]) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "chats": [
            {
                "id": chat.id,
                "type": chat.type,
                "title": chat.title,
                "filters": list(chat.filters),
                "thread_id": chat.thread_id,
                **{name: getattr(chat, name) for name in SETTINGS},
            }
            for chat in chats
        ],
    }


def imported_chats(data: Any) -> list[Chat]:
    """The chats of an export, checked; a MoveError names what is wrong."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise MoveError("not a noticebot subscriptions export")
    if data.get("version") != EXPORT_VERSION:
        raise MoveError(f"export version {data.get('version')!r}; this noticebot reads 1")
    chats = []
    for number, item in enumerate(data.get("chats") or [], start=1):
        try:
            chats.append(
                Chat(
                    id=int(item["id"]),
                    type=str(item.get("type") or "private"),
                    title=item.get("title"),
                    filters=tuple(str(word) for word in item.get("filters") or ()),
                    thread_id=item.get("thread_id"),
                    **{name: item.get(name) for name in SETTINGS if item.get(name)},
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MoveError(f"chat {number} of the export: {error!r}") from None
    return chats


def read_export(text: str) -> list[Chat]:
    try:
        return imported_chats(json.loads(text))
    except json.JSONDecodeError as error:
        raise MoveError(f"not JSON: {error}") from None


def import_subscriptions(ledger: Chats, chats: list[Chat]) -> tuple[int, int]:
    """Subscribe each chat with its settings, in one transaction: (new, updated)."""
    new = 0
    with ledger.transaction():
        for chat in chats:
            new += ledger.chat(chat.id) is None
            ledger.subscribe(chat)
            ledger.update_chat(chat.id, **{name: getattr(chat, name) for name in SETTINGS})
    return new, len(chats) - new
