"""Copies and moves of a ledger: a consistent backup while the bot runs, and the
subscriptions with their settings as JSON, for a new token or a new server."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.ledger.chat_settings import is_integer, problems, shown
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
    while the bot goes on writing (WAL), checked with ``PRAGMA integrity_check``. The
    copy holds every chat id, so it is readable by its owner only (0600)."""
    if not db.is_file():
        raise MoveError(f"{db}: no ledger there")
    check_target(db, target, force=force)
    partial = _partial(target)
    try:
        counts = _copy(db, partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(target, target.stat().st_size, *counts)


def write_private(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` readable by its owner only (an export holds every
    chat id), whole or not at all: a new file renamed over the old one, so a replaced
    file's wider mode is not kept and a reader never sees half an export."""
    partial = _partial(target)
    try:
        with open(partial, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _partial(target: Path) -> Path:
    """A new empty file (0600) beside ``target``, to be renamed over it when complete.
    A regular file left by a copy that was killed is removed first; anything else by
    that name is not ours to remove (creating the file then fails)."""
    partial = target.with_name(target.name + ".partial")
    if partial.is_file() and not partial.is_symlink():
        partial.unlink()
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return partial


def check_target(db: Path | str, target: Path, *, force: bool, what: str = "copy") -> None:
    """Refuse a target that is the live ledger (or its WAL or shared memory: replacing
    either loses what the bot writes next), a folder, or an existing file without force.
    A ledger on a server (a URL) is no file a target could be."""
    files = {os.path.realpath(db), str(db.absolute())} if isinstance(db, Path) else set()
    for live in files:
        for suffix in ("", "-wal", "-shm", "-journal"):
            part = Path(live + suffix)
            if os.path.realpath(target) == os.path.realpath(part) or (
                target.exists() and part.exists() and os.path.samefile(target, part)
            ):
                raise MoveError(
                    f"{target} is the live ledger{' ' + suffix[1:].upper() if suffix else ''}"
                    f" ({db}); give a path for the {what} elsewhere"
                )
    if target.is_dir():
        raise MoveError(f"{target} is a folder; give a file name for the {what}")
    kind = _special_kind(target)
    if kind:  # replaced by a file, a device or pipe would be lost; written to, a pipe waits
        raise MoveError(
            f"{target} is {kind}, not a regular file: nothing written; give a file name"
            f" for the {what}"
        )
    if not target.parent.is_dir():
        raise MoveError(f"{target.parent}: no such folder")
    if target.exists() and not force:
        raise MoveError(f"{target} exists (use --force to replace it)")


def _special_kind(path: Path) -> str | None:
    """What ``path`` names (through a symbolic link) when it is something other than a
    regular file or a folder: a device node, a FIFO, a socket; None otherwise."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None  # nothing there (or for the write to report)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _copy(db: Path, partial: Path) -> list[int]:
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # all pages in one step: one read transaction, one snapshot
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {check}")
        return [
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


@dataclass(frozen=True)
class Export:
    """The chats of an export that may be stored, and one line for each that may not."""

    chats: list[Chat]
    invalid: list[str]


def imported_chats(data: Any) -> Export:
    """The chats of an export, each checked against the rules /settings follows."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise MoveError("not a noticebot subscriptions export")
    if not is_integer(data.get("version")) or data["version"] != EXPORT_VERSION:
        raise MoveError(f"export version {shown(data.get('version'))}; this noticebot reads 1")
    items = data.get("chats")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise MoveError(f"chats {shown(items)} is not a list of chats")
    chats: list[Chat] = []
    invalid: list[str] = []
    seen: set[int] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            invalid.append(f"chat {number} of the export: {shown(item)} is not a chat")
            continue
        name = (
            f"chat {item['id']}" if is_integer(item.get("id")) else f"chat {number} of the export"
        )
        found = problems(item)
        if not found and item["id"] in seen:
            found = ["listed twice"]
        if found:
            invalid.append(f"{name}: {'; '.join(found)}")
            continue
        seen.add(item["id"])
        chats.append(
            Chat(
                id=item["id"],
                type=item.get("type") or "private",
                title=item.get("title"),
                filters=tuple(item.get("filters") or ()),
                thread_id=item.get("thread_id"),
                **{key: item[key] for key in SETTINGS if item.get(key) is not None},
            )
        )
    return Export(chats, invalid)


def read_export(text: str) -> Export:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MoveError(f"not JSON: {error}") from None
    except RecursionError:  # the decoder recurses once per [ or {
        raise MoveError(
            "not JSON this noticebot reads: lists or objects nested too deeply"
        ) from None
    return imported_chats(data)


def import_subscriptions(ledger: Chats, chats: list[Chat]) -> tuple[int, int]:
    """Subscribe each chat with its settings, in one transaction: (new, updated)."""
    new = 0
    with ledger.transaction():
        for chat in chats:
            new += ledger.chat(chat.id) is None
            ledger.subscribe(chat)
            ledger.update_chat(chat.id, **{name: getattr(chat, name) for name in SETTINGS})
    return new, len(chats) - new
