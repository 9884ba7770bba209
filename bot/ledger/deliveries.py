"""Deliveries: one row per (article, chat): what the chat's copy should show (the
target) and what it holds (the copy, :mod:`bot.ledger.copies`).

Transitions only set the target; none of them performs steps. The reconciler
(:mod:`bot.sending.reconciler`) brings the copy to the target one Bot API call at
a time and records each outcome before the next, so any interruption resumes.
The target follows from the row's ``version`` (NULL: the article's current
one), the article's status (published, or withdrawn: no copy), the chat
(unsubscribed: the copy it holds kept current, nothing new sent; gone: left as
it is) and the notice's urgency and expiry (pinned while urgent and not expired).

======================  ==================  =========================================
from                    to                  when (the function; one transaction each)
======================  ==================  =========================================
(none)                  queued              a notice for a chat (``enqueue``)
skipped, retracted,     queued              published again, broadcast, or the chat is
failed                                      back (``enqueue``; the copy is kept, and
                                            brought back to the notice)
sent, failed, retracted queued              a correction (``retarget``), a withdrawal
                                            (``retract_article``), an urgent notice
                                            expired (``queue_unpins``)
queued                  sending             the dispatcher claims it by id, compare-
                                            and-set (``claim``)
sending                 sending             Telegram answered a call: the copy as it is
                                            now (``record_copy``)
sending                 sent / retracted /  the copy is the target: the notice shown /
                        skipped             no message left or only marked ones / nothing
                                            was ever shown (``settle``)
sending                 queued              the target moved meanwhile (``settle``); a
                                            retry later (``retry_later``); a process died
                                            while sending (``requeue_interrupted``)
sending                 failed              given up (``finish``); the copy is kept, and
                                            a later withdrawal or correction still
                                            reaches it
queued                  skipped             nothing sent yet and the notice was withdrawn,
                                            the chat left, or is gone
                                            (``retract_article``, ``Chats.unsubscribe``,
                                            ``Chats.deactivate_chat``)
======================  ==================  =========================================

A row belongs to the task that claimed it: ``due`` offers only queued rows, one
per chat (every chat with due work, oldest first, whatever one chat's backlog),
and none of a chat that has a row being sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.chats import Chat
from bot.ledger.copies import Copy, by_slot, dumps, loads
from bot.ledger.states import (
    FAILED,
    HAS_COPY,
    OPEN_STATUSES,
    QUEUED,
    REQUEUE,
    RETRACTED,
    SENDABLE,
    SENDING,
    SENT,
    SKIPPED,
)
from bot.ledger.visibility import RESCHEDULE

PartIds = list[list[int]]  # the message ids of each part: [[card], [text], [album…]]
# The article may be shown (SQL, inside an UPDATE of deliveries).
PUBLISHED = (
    "(SELECT a.status FROM articles a WHERE a.id = deliveries.article_id)"
    f" IN ({', '.join(repr(s) for s in SENDABLE)})"
)


@dataclass(frozen=True)
class Delivery:
    id: int
    article_id: str
    chat_id: int
    kind: str
    status: str
    attempts: int
    first_error_at: float | None
    copy: Copy = ()
    shown: str | None = None  # the version the copy showed when it last settled as sent

    @property
    def message_ids(self) -> PartIds:
        return by_slot(self.copy)

    @property
    def pinned(self) -> bool:
        return any(p.pinned for p in self.copy)

    @classmethod
    def from_row(
        cls, row: dict[str, Any], *, id_key: str = "id", status_key: str = "status"
    ) -> Delivery:
        """``id_key`` and ``status_key`` name those columns in a row joined with a chat's."""
        return cls(
            id=row[id_key],
            article_id=row["article_id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            status=row[status_key],
            attempts=row["attempts"],
            first_error_at=row["first_error_at"],
            copy=loads(row["copy"]),
            shown=row.get("shown"),
        )


@dataclass(frozen=True)
class Work:
    """A delivery with what reconciling it needs to know, read in one query.

    ``mark`` and ``read_at`` say when it was read, so :meth:`Deliveries.current` can
    tell whether the read still holds."""

    delivery: Delivery
    chat: Chat | None
    article_status: str | None
    article_version: str | None
    mark: int = 0
    read_at: float = 0.0
    asks: bool = False  # the notice asks residents to confirm it (its card has ✅ 收到)

    @property
    def published(self) -> bool:
        return self.article_status in SENDABLE


WORK_COLUMNS = (
    "SELECT c.*, d.id AS d_id, d.article_id, d.chat_id, d.kind, d.status AS d_status,"
    " d.attempts, d.first_error_at, d.copy, d.shown, a.status AS a_status,"
    " COALESCE(d.version, a.content_hash, CAST(a.last_changed AS TEXT)) AS a_version,"
    " (SELECT n.round FROM ack_notices n WHERE n.article_id = d.article_id) AS ack_round"
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
        """Queue this article for each chat that has no row for it yet, or whose row
        settled without the notice (skipped, retracted, failed: published again, a
        broadcast, a chat that is back). Such a row keeps its copy: the reconciler
        brings what the chat still holds back to the notice. ``version`` None: the
        article's current version."""
        now = self.clock()
        at = not_before or now
        chat_ids = list(chat_ids)
        rows = [
            (article_id, chat_id, kind, QUEUED, at, broadcast_id, version, now, now)
            for chat_id in chat_ids
        ]
        with self.transaction():
            added = self._exec_many(
                "INSERT INTO deliveries (article_id, chat_id, kind, status,"
                " next_attempt_at, broadcast_id, version, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            return added + self._exec_many(
                "UPDATE deliveries SET status = ?, next_attempt_at = ?, updated_at = ?,"
                " attempts = 0, first_error_at = NULL, last_error = NULL,"
                " broadcast_id = COALESCE(?, broadcast_id), version = ?"
                f" WHERE article_id = ? AND chat_id = ?"
                f" AND status IN ('{SKIPPED}', '{RETRACTED}', '{FAILED}')",
                [
                    (QUEUED, at, now, broadcast_id, version, article_id, chat_id)
                    for chat_id in chat_ids
                ],
            )

    def due(self, now: float, limit: int) -> list[int]:
        """Queued rows whose time has come: the oldest of each chat, chats in the order
        their work fell due, and none of a chat that has a row being sent (its messages
        go out in order, one notice at a time). Every chat gets its turn, whatever the
        backlog of another."""
        rows = self._tuples(
            "SELECT (SELECT q.id FROM deliveries q WHERE q.chat_id = w.chat_id"
            f" AND q.status = '{QUEUED}' AND q.next_attempt_at <= :now"
            " ORDER BY q.next_attempt_at, q.id LIMIT 1)"
            " FROM (SELECT chat_id, MIN(next_attempt_at) AS t FROM deliveries"
            f" WHERE status = '{QUEUED}' AND next_attempt_at <= :now GROUP BY chat_id) w"
            " JOIN chats c ON c.id = w.chat_id AND c.active = 1"
            " WHERE NOT EXISTS (SELECT 1 FROM deliveries s"
            f" WHERE s.chat_id = w.chat_id AND s.status = '{SENDING}')"
            " ORDER BY w.t LIMIT :limit",
            {"now": now, "limit": limit},
        )
        return [r[0] for r in rows]

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
        the reconciler's own records (each touches only its own row). Any other write
        in this process (a withdrawal, a settings change, a migration) means a fresh
        read. Other processes only read or enqueue (:mod:`bot.ledger.owner`), which
        changes no claimed row. Skipping the re-read is a tenth of the send rate once
        Telegram answers fast.
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
            works.append(
                Work(
                    delivery,
                    chat,
                    row["a_status"],
                    row["a_version"],
                    mark,
                    now,
                    asks=row["ack_round"] is not None,
                )
            )
        return works

    def _mark(self) -> int:
        """Moves whenever anything but :meth:`record_copy` writes on this connection."""
        return self.changes - self._own_records

    def claim(self, delivery_ids: Iterable[int]) -> list[int]:
        """queued → sending, compare-and-set: the ids this caller now owns."""
        ids = list(delivery_ids)
        if not ids:
            return []
        fence = self.owner.fence_sql()  # none once another process took over
        rows = self._rows(
            f"UPDATE deliveries SET status = ?, updated_at = ?"
            f" WHERE status = ? AND id IN ({','.join('?' * len(ids))}){fence} RETURNING id",
            [SENDING, self.clock(), QUEUED, *ids],
        )
        return [r["id"] for r in rows]

    def requeue_interrupted(self, delivery_ids: Iterable[int] | None = None) -> int:
        """sending → queued, for rows a dead process was sending (all of them: call it
        at start, when this process alone owns the ledger), or for these rows (whose
        worker could not record how they ended)."""
        where, params = f"status = '{SENDING}'", [QUEUED, self.clock()]
        if delivery_ids is not None:
            ids = list(delivery_ids)
            if not ids:
                return 0
            where += f" AND id IN ({','.join('?' * len(ids))})"
            params += ids
        return self._exec(f"UPDATE deliveries SET status = ?, updated_at = ? WHERE {where}", params)

    async def record_copy(self, delivery_id: int, copy: Copy) -> None:
        """What the chat holds now, after Telegram answered (or before an edit whose
        outcome a crash would leave unknown)."""
        await self._record(
            "UPDATE deliveries SET copy = ?, pinned = ?, updated_at = ?"
            f" WHERE id = ?{self.owner.fence_sql()}",
            [dumps(copy), _pinned(copy), self.clock(), delivery_id],
        )

    async def settle(
        self,
        delivery_id: int,
        status: str,
        version: str | None,
        *,
        edited: bool = False,
        copy: Copy | None = None,
    ) -> None:
        """The copy is the target (``status``: sent or retracted), unless the target
        moved while the reconciler worked (a correction, a withdrawal, the notice
        back): then queued again, due now. ``edited``: a correction reached the copy
        (counted for ``status``); ``copy``: what the chat holds now, recorded with it."""
        recorded = "" if copy is None else "copy = :copy, pinned = :pinned, "
        await self._record(
            f"UPDATE deliveries SET {recorded}status = CASE"
            f" WHEN (CASE WHEN {PUBLISHED} THEN 1 ELSE 0 END) = :published"
            " AND COALESCE(version, :version) IS NOT DISTINCT FROM :version"
            " THEN :status ELSE :queued END,"
            " shown = CASE WHEN :published = 1 THEN COALESCE(shown, :version) ELSE shown END,"
            " sent_at = CASE WHEN :published = 1 THEN COALESCE(sent_at, :now) ELSE sent_at END,"
            " updated_at = :now, attempts = 0, first_error_at = NULL, next_attempt_at = :now,"
            f" edits = edits + :edited WHERE id = :id{self.owner.fence_sql()}",
            {
                "published": int(status == SENT),
                "version": version,
                "status": status,
                "queued": QUEUED,
                "now": self.clock(),
                "edited": int(edited),
                "id": delivery_id,
            }
            | ({} if copy is None else {"copy": dumps(copy), "pinned": _pinned(copy)}),
        )

    async def _record(self, sql: str, params: list[Any] | dict[str, Any]) -> None:
        """A write the reconciler awaits before the part's in-flight slot is free. On a
        server it travels on a connection of its own while the event loop sends to
        other chats; SQLite writes it at once (a write there is quicker than a turn of
        the loop). Fenced: once another process holds the lease, it changes nothing."""
        if self.is_server:  # a stop that cancels the worker lets a record on its way land
            await asyncio.shield(self.backend.execute_async(sql, params))
            return
        with self._lock:
            self._own_records += self._exec(sql, params)

    def retarget(self, article_id: str, version: str, *, edit_sent: bool) -> int:
        """A correction: every copy should show ``version``. Rows with nothing shown yet
        take it, and those queued go out at the notice's date as it stands now (a
        notice postponed or brought forward); copies are queued to be brought to it,
        unless ``edit_sent`` is off (then a copy keeps the version it started with).
        The number of copies queued."""
        now = self.clock()
        with self.transaction():
            self._exec(
                "UPDATE deliveries SET version = ?, updated_at = ?"
                f" WHERE article_id = ? AND status IN (?, ?, ?) AND NOT {HAS_COPY}",
                [version, now, article_id, QUEUED, SENDING, SKIPPED],
            )
            self._reschedule(article_id, now)
            if not edit_sent:
                return 0
            self._exec(
                "UPDATE deliveries SET version = ?, updated_at = ?"
                f" WHERE article_id = ? AND status IN (?, ?) AND {HAS_COPY}",
                [version, now, article_id, QUEUED, SENDING],
            )
            return self._exec(
                f"UPDATE deliveries SET version = ?, {REQUEUE}"
                f" WHERE article_id = ? AND status IN (?, ?) AND {HAS_COPY}",
                [version, QUEUED, now, now, article_id, SENT, FAILED],
            )

    def _reschedule(self, article_id: str, now: float) -> None:
        """Queued rows that hold nothing of the notice yet follow its date (the time
        rule of :mod:`bot.ledger.visibility`)."""
        dates = self._rows("SELECT date FROM articles WHERE id = ?", [article_id])
        if not dates or dates[0]["date"] is None:
            return
        self._exec(
            f"UPDATE deliveries SET {RESCHEDULE} WHERE article_id = :article"
            f" AND status = '{QUEUED}' AND NOT {HAS_COPY}",
            {"date": dates[0]["date"], "now": now, "article": article_id},
        )

    def retract_article(self, article_id: str, reason: str) -> int:
        """A withdrawal: what no chat has seen yet is cancelled (skipped); every copy
        that holds a message, however it ended (sent, failed, half-way, a cancelled
        broadcast), is queued to be retracted. The number of copies queued."""
        now = self.clock()
        with self.transaction():
            self._exec(
                "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?"
                f" WHERE article_id = ? AND status = ? AND NOT {HAS_COPY}",
                [SKIPPED, reason, now, article_id, QUEUED],
            )
            return self._exec(
                f"UPDATE deliveries SET {REQUEUE}"
                f" WHERE article_id = ? AND status IN (?, ?, ?, ?) AND {HAS_COPY}",
                [QUEUED, now, now, article_id, SENT, FAILED, SKIPPED, QUEUED],
            )

    def restore_copies(self, article_id: str, version: str) -> int:
        """Published again: every copy still in a chat (marked withdrawn where it could
        not be deleted, or left as it was, or its retraction still queued) is brought
        back to the notice as published now, whether or not its chat would be sent the
        notice today (it left, or the notice is old)."""
        now = self.clock()
        with self.transaction():
            self._exec(
                f"UPDATE deliveries SET version = ? WHERE article_id = ? AND status = '{QUEUED}'",
                [version, article_id],
            )
            return self._exec(
                f"UPDATE deliveries SET version = ?, {REQUEUE} WHERE article_id = ?"
                f" AND status IN (?, ?, ?) AND {HAS_COPY}",
                [version, QUEUED, now, now, article_id, RETRACTED, SKIPPED, FAILED],
            )

    def queue_unpins(self, now: float) -> int:
        """Pinned copies of notices that expired: queued to be unpinned."""
        return self._exec(  # literal pinned = 1: the partial index of schema v7
            f"UPDATE deliveries SET {REQUEUE}"
            " WHERE pinned = 1 AND status IN (?, ?)"
            " AND (SELECT expires FROM articles a WHERE a.id = deliveries.article_id) <= ?",
            [QUEUED, now, now, SENT, FAILED, now],
        )

    def finish(self, delivery_id: int, status: str, error: str | None = None) -> None:
        now = self.clock()
        self._exec(
            "UPDATE deliveries SET status = ?, last_error = COALESCE(?, last_error),"
            " updated_at = ? WHERE id = ?",
            [status, error, now, delivery_id],
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

    def recent_sends(self, since: float) -> dict[int, list[tuple[float, int]]]:
        """Per chat, when the bot's messages still in the ledger were sent since
        ``since``, and how many messages each call made: a restart resumes each
        chat's pace from these instead of from zero."""
        sends: dict[int, list[tuple[float, int]]] = {}
        for row in self._rows("SELECT copy FROM deliveries WHERE updated_at >= ?", [since]):
            for part in loads(row["copy"]):
                if part.at >= since and part.ids:
                    sends.setdefault(part.chat, []).append((part.at, len(part.ids)))
        return sends


def _pinned(copy: Copy) -> int:
    return int(any(part.pinned for part in copy))
