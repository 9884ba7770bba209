"""Chats: subscriptions and their settings, deactivation, and groups that moved."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.formatting.formatter import MODE_DIGEST
from bot.ledger.base import LedgerBase
from bot.ledger.states import (
    HAS_COPY,
    OPEN_STATUSES,
    QUEUED,
    REQUEUE,
    SENDING,
    SENT,
    SKIPPED,
)


@dataclass(frozen=True)
class Chat:
    id: int
    type: str = "private"
    title: str | None = None
    language: str | None = None
    mode: str = "card"
    filters: tuple[str, ...] = ()
    thread_id: int | None = None
    active: bool = True
    subscribed: bool = True
    deactivated_reason: str | None = None
    quiet_start: str | None = None  # "22:00" in NOTICEBOT_TZ
    quiet_end: str | None = None
    digest_time: str | None = None
    last_digest_at: float | None = None
    digest_since: float | None = None  # when the chat entered digest mode (or came back in it)
    pin_refused_at: float | None = None  # Telegram refused the bot a pin here (and when)
    trouble: str | None = None  # why nothing can be sent here for now (a closed topic…)

    def wants(self, names: Iterable[str], text: str) -> bool:
        """No filter words: everything. Otherwise any word among the category and tag
        ``names``, or inside ``text`` (title and body)."""
        if not self.filters:
            return True
        folded_names = {n.casefold() for n in names}
        folded_text = text.casefold()
        return any(
            w.casefold() in folded_names or w.casefold() in folded_text for w in self.filters
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Chat:
        filters = row["filters"]
        return cls(
            id=row["id"],
            type=row["type"] or "private",
            title=row["title"],
            language=row["language"],
            mode=row["mode"] or "card",
            filters=tuple(json.loads(filters)) if filters and filters != "[]" else (),
            thread_id=row["thread_id"],
            active=bool(row["active"]),
            subscribed=bool(row["subscribed"]),
            deactivated_reason=row["deactivated_reason"],
            quiet_start=row.get("quiet_start"),
            quiet_end=row.get("quiet_end"),
            digest_time=row.get("digest_time"),
            last_digest_at=row.get("last_digest_at"),
            digest_since=row.get("digest_since"),
            pin_refused_at=row.get("pin_refused_at"),
            trouble=row.get("trouble"),
        )


def _merged(old: Chat, new: Chat) -> dict[str, Any]:
    """The supergroup's settings, filled in from the group it was."""
    subscribed = new.subscribed or old.subscribed
    return {
        "type": "supergroup",
        "subscribed": int(subscribed),
        "active": 1,
        "deactivated_reason": None,
        "filters": json.dumps(list(new.filters or old.filters), ensure_ascii=False),
        "mode": new.mode if new.mode != "card" or not old.subscribed else old.mode,
        "language": new.language or old.language,
        "thread_id": new.thread_id if new.thread_id is not None else old.thread_id,
        "quiet_start": new.quiet_start or old.quiet_start,
        "quiet_end": new.quiet_end or old.quiet_end,
        "digest_time": new.digest_time or old.digest_time,
        "last_digest_at": new.last_digest_at or old.last_digest_at,
        "digest_since": new.digest_since or old.digest_since,
    }


class Chats(LedgerBase):
    def subscribe(self, chat: Chat) -> None:
        """Subscribe (again): type, title, topic and filters from ``chat``; settings kept.
        A chat in digest mode gets its digests from now on, not what it missed."""
        now = self.clock()
        values: dict[str, Any] = {
            "type": chat.type,
            "title": chat.title,
            "filters": json.dumps(list(chat.filters), ensure_ascii=False),
            "thread_id": chat.thread_id,
            "active": 1,
            "subscribed": 1,
            "subscribed_at": now,
            "deactivated_reason": None,
            "updated_at": now,
        }
        with self.transaction():
            known = self.chat(chat.id)
            if known is None:
                since = now if chat.mode == MODE_DIGEST else None
                self._insert(
                    "chats",
                    {
                        "id": chat.id,
                        "language": chat.language,
                        "mode": chat.mode,
                        "digest_since": since,
                        **values,
                    },
                )
            else:
                if known.mode == MODE_DIGEST and not (known.subscribed and known.active):
                    values["digest_since"] = now
                self._update("chats", chat.id, values)
                self._resume_copies(chat.id)

    def remember_chat(self, chat_id: int, chat_type: str, title: str | None) -> Chat:
        """A chat the bot talks to, subscribed or not, so its settings have a home.

        Called for every private message: a chat that is known and active costs one
        read, and no write lock."""
        known = self.chat(chat_id)
        if known is not None and known.active:
            return known
        with self.transaction():
            existing = self.chat(chat_id)
            if existing is None:
                now = self.clock()
                self._insert(
                    "chats",
                    {
                        "id": chat_id,
                        "type": chat_type,
                        "title": title,
                        "subscribed": 0,
                        "active": 1,
                        "updated_at": now,
                    },
                )
            elif not existing.active:
                self._update("chats", chat_id, {"active": 1, "deactivated_reason": None})
                self._resume_copies(chat_id)
        return self.chat(chat_id)  # type: ignore[return-value]

    def update_chat(self, chat_id: int, **values: Any) -> None:
        """Change settings. A chat entering digest mode gets digests of what comes from
        now on, not of the archive the bot read before."""
        if "filters" in values:
            values["filters"] = json.dumps(list(values["filters"]), ensure_ascii=False)
        now = self.clock()
        with self.transaction():
            if values.get("mode") == MODE_DIGEST and "digest_since" not in values:
                known = self.chat(chat_id)
                if known is not None and known.mode != MODE_DIGEST:
                    values["digest_since"] = now
            self._update("chats", chat_id, {**values, "updated_at": now})

    def note_pin_refused(self, chat_id: int, refused: bool) -> None:
        """Whether Telegram refused the bot a pin here: ``/settings`` tells the admins
        once, instead of a message on every urgent notice."""
        self._exec(
            "UPDATE chats SET pin_refused_at = ? WHERE id = ?",
            [self.clock() if refused else None, chat_id],
        )

    def note_trouble(self, chat_id: int, trouble: str | None) -> bool:
        """Why the chat is held (None: it is not): whether that is news, to tell once."""
        return bool(
            self._exec(
                "UPDATE chats SET trouble = ?, trouble_at = ? WHERE id = ?"
                " AND trouble IS DISTINCT FROM ?",
                [trouble, self.clock() if trouble else None, chat_id, trouble],
            )
        )

    def unsubscribe(self, chat_id: int) -> bool:
        """No new notices; a copy the chat already holds is still kept current (a
        correction edits it, a withdrawal retracts it)."""
        with self.transaction():
            changed = self._exec(
                "UPDATE chats SET subscribed = 0, updated_at = ? WHERE id = ? AND subscribed = 1",
                [self.clock(), chat_id],
            )
            self._exec(
                "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?"
                f" WHERE chat_id = ? AND status = ? AND NOT {HAS_COPY}",
                [SKIPPED, "unsubscribed", self.clock(), chat_id, QUEUED],
            )
        return bool(changed)

    def chat(self, chat_id: int) -> Chat | None:
        rows = self._rows("SELECT * FROM chats WHERE id = ?", [chat_id])
        return Chat.from_row(rows[0]) if rows else None

    def subscribed_chats(self) -> list[Chat]:
        rows = self._rows("SELECT * FROM chats WHERE active = 1 AND subscribed = 1 ORDER BY id")
        return [Chat.from_row(r) for r in rows]

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """The chat can no longer receive (blocked, kicked, gone): skip what waits for it."""
        with self.transaction():
            self._exec(
                "UPDATE chats SET active = 0, deactivated_reason = ?, updated_at = ? WHERE id = ?",
                [reason, self.clock(), chat_id],
            )
            self._skip_open(chat_id, f"chat deactivated: {reason}")

    def _resume_copies(self, chat_id: int) -> None:
        """The chat is back: copies left as they were while it was gone are brought to
        their notices again (a correction or a withdrawal it missed)."""
        now = self.clock()
        self._exec(
            f"UPDATE deliveries SET {REQUEUE} WHERE chat_id = ? AND status = ? AND {HAS_COPY}",
            [QUEUED, now, now, chat_id, SKIPPED],
        )

    def _skip_open(self, chat_id: int, reason: str) -> None:
        """Nothing can reach the chat: its open rows settle, their copies kept as they
        are (queued again if the chat comes back and subscribes)."""
        self._exec(
            "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?"
            " WHERE chat_id = ? AND status IN (?, ?)",
            [SKIPPED, reason, self.clock(), chat_id, *OPEN_STATUSES],
        )

    def migrate_chat(self, old_id: int, new_id: int) -> bool:
        """A group became a supergroup: the chat, its settings and its ledger rows move to
        the new id. If the supergroup is known already (someone used the bot there), the
        two merge: the group's subscription and settings fill in what the supergroup
        has not set. Where both have a row for one notice, the supergroup's stays if it
        holds a copy, else the one that got further. The copies' messages stay in the
        old group (each part names its chat): Telegram refuses every change to them
        there, and the supergroup numbers its own messages, so an old id must never be
        used in it. Safe to call again (Telegram says it twice, and so may a failed
        send)."""
        with self.transaction():
            old = self.chat(old_id)
            if old is None:
                return False
            new = self.chat(new_id)
            if new is None:
                self._exec(
                    "UPDATE chats SET id = ?, type = ? WHERE id = ?", [new_id, "supergroup", old_id]
                )
            else:
                self._update("chats", new_id, _merged(old, new))
                self._exec("DELETE FROM chats WHERE id = ?", [old_id])
            # the supergroup's row gives way to the group's that got further, unless it
            # holds a copy: that one the bot can still change, the group's never again
            self._exec(
                f"DELETE FROM deliveries WHERE chat_id = ? AND NOT {HAS_COPY} AND article_id IN"
                " (SELECT article_id FROM deliveries WHERE chat_id = ? AND status IN (?, ?))",
                [new_id, old_id, SENT, SENDING],
            )
            self._exec(  # a row the supergroup has already stays where it is
                "UPDATE deliveries SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM deliveries o WHERE o.chat_id = ?"
                " AND o.article_id = deliveries.article_id)",
                [new_id, old_id, new_id],
            )
            self._exec("DELETE FROM deliveries WHERE chat_id = ?", [old_id])
            # who confirmed there counts for the supergroup: its card shows them
            self._exec(
                "UPDATE acks SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM acks o WHERE o.chat_id = ? AND o.article_id = acks.article_id"
                " AND o.round = acks.round AND o.user_id = acks.user_id)",
                [new_id, old_id, new_id],
            )
            self._exec("DELETE FROM acks WHERE chat_id = ?", [old_id])
        return True

    def digest_chats(self) -> list[Chat]:
        rows = self._rows(
            "SELECT * FROM chats WHERE active = 1 AND subscribed = 1 AND mode = ?", [MODE_DIGEST]
        )
        return [Chat.from_row(r) for r in rows]
