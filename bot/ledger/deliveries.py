"""Deliveries: one row per (article, chat), a state machine from queued to sent.

A row names the version of the article it sends (kept in the catalogue when the
scan read it), so what goes out is what was queued, whatever the file says now.

======================  ==================  =========================================
from                    to                  when (the function; one transaction each)
======================  ==================  =========================================
(none)                  queued              a notice for a chat (``enqueue``)
skipped                 queued              published again, or the chat is back
                                            (``enqueue``; resumes at its next part)
queued                  sending             the dispatcher claims it by id, compare-
                                            and-set (``claim``)
sending                 sending             Telegram confirmed a part (``record_part``)
sending                 sent                ... the last part (``record_part``)
sending                 queued              a retry later (``retry_later``), or a
                                            process died while sending
                                            (``requeue_interrupted``, at start)
sending                 failed              given up (``finish``)
queued, sending         skipped             the article was withdrawn, the chat left
                                            or is gone (``skip_article``, and
                                            ``Chats.deactivate_chat``/``unsubscribe``)
======================  ==================  =========================================

A row belongs to the task that claimed it: ``due`` offers only queued rows, one
per chat, and none of a chat that has a row being sent, so a row that moves to
another chat (a group upgraded to a supergroup) can never be taken twice. The
next issue adds the transitions of corrections and withdrawals (edited, retracted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.chats import Chat
from bot.ledger.states import OPEN_STATUSES, QUEUED, SENDING, SENT, SKIPPED


@dataclass(frozen=True)
class Delivery:
    id: int
    article_id: str
    chat_id: int
    kind: str
    status: str
    next_part: int
    attempts: int
    first_error_at: float | None
    message_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_row(
        cls, row: dict[str, Any], *, id_key: str = "id", status_key: str = "status"
    ) -> Delivery:
        """``id_key`` and ``status_key`` name those columns in a row joined with a chat's."""
        ids = row["message_ids"]
        return cls(
            id=row[id_key],
            article_id=row["article_id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            status=row[status_key],
            next_part=row["next_part"],
            attempts=row["attempts"],
            first_error_at=row["first_error_at"],
            message_ids=json.loads(ids) if ids and ids != "[]" else [],
        )


@dataclass(frozen=True)
class Work:
    """A delivery with what sending it needs to know, read in one query.

    ``mark`` and ``read_at`` say when it was read, so :meth:`Deliveries.current` can
    tell whether the read still holds."""

    delivery: Delivery
    chat: Chat | None
    article_status: str | None
    article_version: str | None
    mark: int = 0
    read_at: float = 0.0


WORK_COLUMNS = (
    "SELECT c.*, d.id AS d_id, d.article_id, d.chat_id, d.kind, d.status AS d_status,"
    " d.next_part, d.attempts, d.first_error_at, d.message_ids, a.status AS a_status,"
    " COALESCE(d.version, a.content_hash, CAST(a.last_changed AS TEXT)) AS a_version"
    " FROM deliveries d LEFT JOIN chats c ON c.id = d.chat_id"
    " LEFT JOIN articles a ON a.id = d.article_id"
)
FRESH_FOR = 1.0  # seconds a claimed batch's read is trusted if nothing else wrote since


class Deliveries(LedgerBase):
    def enqueue(
        self,
        article_id: str,
        chat_ids: Iterable[int],
        *,
        not_before: float | None = None,
        kind: str = "article",
        broadcast_id: int | None = None,
        version: str | None = None,
    ) -> int:
        """Queue this article for each chat that has no row for it yet, or a skipped one
        (published again, or a chat that is back): that row resumes at its next part."""
        now = self.clock()
        at = not_before or now
        chat_ids = list(chat_ids)
        rows = [
            (article_id, chat_id, kind, QUEUED, at, broadcast_id, version, now, now)
            for chat_id in chat_ids
        ]
        with self.transaction():
            before = self.db.conn.total_changes
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO deliveries (article_id, chat_id, kind, status,"
                " next_attempt_at, broadcast_id, version, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.db.conn.executemany(
                "UPDATE deliveries SET status = ?, next_attempt_at = ?, updated_at = ?,"
                " attempts = 0, first_error_at = NULL, last_error = NULL,"
                " broadcast_id = COALESCE(?, broadcast_id), version = COALESCE(?, version)"
                " WHERE article_id = ? AND chat_id = ? AND status = ?",
                [
                    (QUEUED, at, now, broadcast_id, version, article_id, chat_id, SKIPPED)
                    for chat_id in chat_ids
                ],
            )
            return self.db.conn.total_changes - before

    def due(self, now: float, limit: int) -> list[int]:
        """Queued rows whose time has come, oldest first: one per chat, and none of a
        chat that has a row being sent (its parts go out in order, one notice at a time)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT d.id, d.chat_id FROM deliveries d JOIN chats c ON c.id = d.chat_id"
                f" WHERE d.status = '{QUEUED}' AND d.next_attempt_at <= ? AND c.active = 1"
                " AND NOT EXISTS (SELECT 1 FROM deliveries s"
                f" WHERE s.chat_id = d.chat_id AND s.status = '{SENDING}')"
                " ORDER BY d.next_attempt_at, d.id LIMIT ?",
                [now, limit * 4],
            ).fetchall()
        seen: set[int] = set()
        picked = []
        for delivery_id, chat_id in rows:
            if chat_id not in seen:
                seen.add(chat_id)
                picked.append(delivery_id)
                if len(picked) == limit:
                    break
        return picked

    def next_due_time(self) -> float | None:
        """When the next open delivery is due; one index probe per status (literal
        statuses: the partial indexes of schema v5)."""
        times = [
            self._rows(
                f"SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status = '{status}'"
            )[0]["t"]
            for status in OPEN_STATUSES
        ]
        return min((t for t in times if t is not None), default=None)

    def deliveries(self, chat_id: int | None = None) -> list[Delivery]:
        where, params = ("WHERE chat_id = ?", [chat_id]) if chat_id is not None else ("", [])
        return [
            Delivery.from_row(r) for r in self._rows(f"SELECT * FROM deliveries {where}", params)
        ]

    def work(self, delivery_id: int) -> Work | None:
        works = self._works("d.id = ?", [delivery_id])
        return works[0] if works else None

    def claim_work(self, now: float, limit: int) -> list[Work]:
        """Claim what is due (:meth:`due`, :meth:`claim`) and read it, in one batch."""
        ids = self.claim(self.due(now, limit))
        if not ids:
            return []
        order = {delivery_id: n for n, delivery_id in enumerate(ids)}
        works = self._works(f"d.id IN ({','.join('?' * len(ids))})", ids)
        return sorted(works, key=lambda w: order[w.delivery.id])

    def current(self, work: Work) -> Work | None:
        """``work`` as it is now: the batch's read while it holds, else read again.

        The read holds for a second if nothing has written to the ledger since but
        the sender's own records (each touches only its own row). Any other write in
        this process (a withdrawal, a settings change, a migration) means a fresh read.
        Other processes only read or enqueue (:mod:`bot.ledger.owner`), which changes
        no claimed row. Skipping the re-read is a tenth of the send rate once Telegram
        answers fast.
        """
        if work.mark == self._mark() and self.clock() - work.read_at < FRESH_FOR:
            return work
        return self.work(work.delivery.id)

    def _works(self, where: str, params: list[Any]) -> list[Work]:
        mark, now = self._mark(), self.clock()
        works = []
        for row in self._rows(f"{WORK_COLUMNS} WHERE {where}", params):
            delivery = Delivery.from_row(row, id_key="d_id", status_key="d_status")
            chat = Chat.from_row(row) if row["id"] is not None else None
            works.append(Work(delivery, chat, row["a_status"], row["a_version"], mark, now))
        return works

    def _mark(self) -> int:
        """Moves whenever anything but :meth:`record_part` writes on this connection."""
        return self.db.conn.total_changes - self._own_records

    def claim(self, delivery_ids: Iterable[int]) -> list[int]:
        """queued → sending, compare-and-set: the ids this caller now owns."""
        ids = list(delivery_ids)
        if not ids:
            return []
        rows = self._rows(
            f"UPDATE deliveries SET status = ?, updated_at = ?"
            f" WHERE status = ? AND id IN ({','.join('?' * len(ids))}) RETURNING id",
            [SENDING, self.clock(), QUEUED, *ids],
        )
        return [r["id"] for r in rows]

    def requeue_interrupted(self) -> int:
        """sending → queued for rows a dead process was sending (call it at start, when
        this process alone owns the ledger): they resume at their next part."""
        return self._exec(
            f"UPDATE deliveries SET status = ?, updated_at = ? WHERE status = '{SENDING}'",
            [QUEUED, self.clock()],
        )

    def record_part(
        self, delivery_id: int, next_part: int, message_ids: list[int], *, done: bool = False
    ) -> None:
        """Telegram confirmed a part: where to resume, what it sent, and whether all is sent."""
        now = self.clock()
        with self._lock:
            self._own_records += self._exec(
                "UPDATE deliveries SET next_part = ?, message_ids = ?, updated_at = ?,"
                " status = CASE WHEN ? THEN ? ELSE status END,"
                " sent_at = CASE WHEN ? THEN ? ELSE sent_at END WHERE id = ?",
                [next_part, json.dumps(message_ids), now, done, SENT, done, now, delivery_id],
            )

    def finish(self, delivery_id: int, status: str, error: str | None = None) -> None:
        now = self.clock()
        self._exec(
            "UPDATE deliveries SET status = ?, last_error = COALESCE(?, last_error),"
            " updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
            " WHERE id = ?",
            [status, error, now, status, now, delivery_id],
        )

    def retry_later(
        self, delivery_id: int, at: float, error: str, *, count_attempt: bool = True
    ) -> None:
        """sending → queued, due again at ``at``."""
        now = self.clock()
        self._exec(
            "UPDATE deliveries SET status = ?, next_attempt_at = ?, last_error = ?,"
            " updated_at = ?, attempts = attempts + ?,"
            " first_error_at = COALESCE(first_error_at, ?) WHERE id = ? AND status = ?",
            [QUEUED, at, error, now, int(count_attempt), now, delivery_id, SENDING],
        )

    def skip_article(self, article_id: str, reason: str) -> int:
        return self._exec(
            "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?"
            " WHERE article_id = ? AND status IN (?, ?)",
            [SKIPPED, reason, self.clock(), article_id, *OPEN_STATUSES],
        )
