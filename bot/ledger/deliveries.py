"""Deliveries: one row per (article, chat), a state machine from queued to sent,
and on to edited or retracted as the notice changes.

A row names the version of the article its chat's copy should show (kept in the
catalogue when the scan read it) and the version it shows (``shown``), so what
goes out is what was queued, whatever the file says now, and a correction is a
new version to bring each copy to. ``message_ids`` holds the ids of each part.

======================  ==================  =========================================
from                    to                  when (the function; one transaction each)
======================  ==================  =========================================
(none)                  queued              a notice for a chat (``enqueue``)
skipped, retracted      queued              published again, or the chat is back
                                            (``enqueue``; a retracted copy is sent anew)
queued                  sending             the dispatcher claims it by id, compare-
                                            and-set (``claim``)
sending                 sending             Telegram confirmed a part, an edit or a
                                            deletion (``record_part``, ``record_step``)
sending                 sent                ... the copy is complete and current
                                            (``record_part``, ``finish_edit``)
sending                 queued              ... but the notice changed or was withdrawn
                                            meanwhile (the same functions); a retry
                                            later (``retry_later``); a process died
                                            while sending (``requeue_interrupted``)
sending                 failed              given up (``finish``)
sending                 retracted           the copy is deleted or marked withdrawn
                                            (``finish_retract``)
sent                    queued              a correction: edit the copy in place
                                            (``retarget``); a withdrawal: retract it
                                            (``retract_article``); an urgent notice
                                            expired: unpin it (``queue_unpins``)
queued                  skipped             nothing of it sent yet and the notice was
                                            withdrawn (``retract_article``), or the
                                            chat left or is gone
                                            (``Chats.deactivate_chat``/``unsubscribe``)
======================  ==================  =========================================

A row belongs to the task that claimed it: ``due`` offers only queued rows, one
per chat, and none of a chat that has a row being sent, so a row that moves to
another chat (a group upgraded to a supergroup) can never be taken twice. What a
queued row needs (send the rest, edit, retract, unpin) follows from the row and
its article; the sender works it out (:mod:`bot.sending.delivery`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.chats import Chat
from bot.ledger.states import (
    ACTIVE,
    ANNOUNCEMENT,
    OPEN_STATUSES,
    QUEUED,
    RETRACTED,
    SENDING,
    SENT,
    SKIPPED,
)

PartIds = list[list[int]]  # the message ids of each part sent: [[card], [text], [album…]]
# The article may be shown (SQL, inside an UPDATE of deliveries).
PUBLISHED = (
    "(SELECT a.status FROM articles a WHERE a.id = deliveries.article_id)"
    f" IN ('{ACTIVE}', '{ANNOUNCEMENT}')"
)


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
    message_ids: PartIds = field(default_factory=list)
    shown: str | None = None  # the version the copy shows (Work.article_version: should)
    step: int = 0  # the next part an edit or a retraction handles
    pinned: bool = False

    @property
    def parts_sent(self) -> int:
        return len(self.message_ids)

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
            shown=row.get("shown"),
            step=row.get("step") or 0,
            pinned=bool(row.get("pinned")),
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
    " d.next_part, d.attempts, d.first_error_at, d.message_ids, d.shown,"
    " d.step, d.pinned, a.status AS a_status,"
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
        """Queue this article for each chat that has no row for it yet, a skipped one
        (published again, or a chat that is back: it resumes at its next part), or a
        retracted one (published again: it is sent anew)."""
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
                " broadcast_id = COALESCE(?, broadcast_id), version = COALESCE(?, version),"
                f" message_ids = CASE WHEN status = '{RETRACTED}' THEN '[]' ELSE message_ids END,"
                f" next_part = CASE WHEN status = '{RETRACTED}' THEN 0 ELSE next_part END,"
                f" shown = CASE WHEN status = '{RETRACTED}' THEN NULL ELSE shown END,"
                " step = 0, pinned = 0"
                f" WHERE article_id = ? AND chat_id = ? AND status IN ('{SKIPPED}', '{RETRACTED}')",
                [
                    (QUEUED, at, now, broadcast_id, version, article_id, chat_id)
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

    def record_part(self, delivery_id: int, message_ids: PartIds, *, shown: str) -> None:
        """Telegram confirmed a part of version ``shown``: the ids of every part so far."""
        with self._lock:
            self._own_records += self._exec(
                "UPDATE deliveries SET next_part = ?, message_ids = ?, shown = ?, updated_at = ?"
                " WHERE id = ?",
                [len(message_ids), json.dumps(message_ids), shown, self.clock(), delivery_id],
            )

    def record_step(self, delivery_id: int, step: int, message_ids: PartIds) -> None:
        """An edit or a retraction got through part ``step - 1``: resume after it."""
        with self._lock:
            self._own_records += self._exec(
                "UPDATE deliveries SET step = ?, message_ids = ?, updated_at = ? WHERE id = ?",
                [step, json.dumps(message_ids), self.clock(), delivery_id],
            )

    def record_edit(self, delivery_id: int, version: str, message_ids: PartIds) -> None:
        """The copy shows ``version`` now, in these messages."""
        with self._lock:
            self._own_records += self._exec(
                "UPDATE deliveries SET shown = ?, message_ids = ?, next_part = ?, step = 0,"
                " edits = edits + 1, updated_at = ? WHERE id = ?",
                [version, json.dumps(message_ids), len(message_ids), self.clock(), delivery_id],
            )

    def keep_shown(self, delivery_id: int) -> None:
        """Corrections are off: the version the copy shows is the one it should show."""
        self._exec("UPDATE deliveries SET version = shown WHERE id = ?", [delivery_id])

    def settle(self, delivery_id: int) -> None:
        """The sender is done with the row: ``sent`` if its copy is complete and current,
        else queued again (the notice changed or was withdrawn while it went out)."""
        now = self.clock()
        with self._lock:
            self._own_records += self._exec(
                f"UPDATE deliveries SET status = CASE WHEN {PUBLISHED}"
                " AND COALESCE(version, shown) = shown THEN ? ELSE ? END,"
                " sent_at = COALESCE(sent_at, ?), updated_at = ?, step = 0, attempts = 0,"
                " first_error_at = NULL, next_attempt_at = ? WHERE id = ?",
                [SENT, QUEUED, now, now, now, delivery_id],
            )

    def finish_retract(self, delivery_id: int) -> None:
        """The copy is gone or marked withdrawn; if the notice is back already, the row
        is queued to be sent anew."""
        now = self.clock()
        self._exec(
            f"UPDATE deliveries SET status = CASE WHEN {PUBLISHED} THEN ? ELSE ? END,"
            " message_ids = '[]', next_part = 0, shown = NULL, step = 0, pinned = 0,"
            " updated_at = ?, attempts = 0, first_error_at = NULL WHERE id = ?",
            [QUEUED, RETRACTED, now, delivery_id],
        )

    def set_pinned(self, delivery_id: int, pinned: bool) -> None:
        self._exec(
            "UPDATE deliveries SET pinned = ?, updated_at = ? WHERE id = ?",
            [int(pinned), self.clock(), delivery_id],
        )

    def retarget(self, article_id: str, version: str, *, edit_sent: bool) -> int:
        """A correction: every copy should show ``version``. Open rows send it (or edit
        to it once their parts are out); sent copies are queued to be edited, unless
        ``edit_sent`` is off. The number of copies queued for an edit."""
        now = self.clock()
        with self.transaction():
            self._exec(
                "UPDATE deliveries SET version = ?, step = 0, updated_at = ?"
                " WHERE article_id = ? AND status IN (?, ?, ?)",
                [version, now, article_id, QUEUED, SENDING, SKIPPED],
            )
            if not edit_sent:
                return 0
            return self._exec(
                "UPDATE deliveries SET version = ?, status = ?, step = 0, next_attempt_at = ?,"
                " attempts = 0, first_error_at = NULL, updated_at = ?"
                " WHERE article_id = ? AND status = ? AND COALESCE(shown, '') != ?",
                [version, QUEUED, now, now, article_id, SENT, version],
            )

    def retract_article(self, article_id: str, reason: str) -> int:
        """A withdrawal: what no chat has seen yet is cancelled (skipped); copies sent,
        whole or in part, are queued to be retracted. The number of copies queued."""
        now = self.clock()
        with self.transaction():
            self._exec(
                "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?"
                " WHERE article_id = ? AND status = ? AND message_ids = '[]'",
                [SKIPPED, reason, now, article_id, QUEUED],
            )
            return self._exec(
                "UPDATE deliveries SET status = ?, step = 0, next_attempt_at = ?, attempts = 0,"
                " first_error_at = NULL, updated_at = ?"
                " WHERE article_id = ? AND (status = ? OR (status = ? AND message_ids != '[]'))",
                [QUEUED, now, now, article_id, SENT, QUEUED],
            )

    def queue_unpins(self, now: float) -> int:
        """Pinned copies of notices that expired: queued to be unpinned."""
        return self._exec(  # literal pinned = 1: the partial index of schema v7
            "UPDATE deliveries SET status = ?, next_attempt_at = ?, updated_at = ?"
            " WHERE pinned = 1 AND status = ?"
            " AND (SELECT expires FROM articles a WHERE a.id = deliveries.article_id) <= ?",
            [QUEUED, now, now, SENT, now],
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
