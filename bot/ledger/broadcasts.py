"""Broadcasts: an admin's "send this to everyone", and how far it has got."""

from __future__ import annotations

from typing import Any

from bot.ledger.chats import Chats
from bot.ledger.deliveries import Deliveries
from bot.ledger.states import FAILED, HAS_COPY, QUEUED, RETRACTED, SENDING, SENT, SKIPPED


class Broadcasts(Chats, Deliveries):
    def broadcast(self, article_id: str, by_user: int | None) -> tuple[int, int]:
        """Queue ``article_id`` for every active chat that lacks it; filters and age ignored."""
        with self.transaction():
            chat_ids = [c.id for c in self.subscribed_chats()]
            (broadcast_id,) = self._tuples(
                "INSERT INTO broadcasts (by_user, article_id, created_at) VALUES (?, ?, ?)"
                " RETURNING id",
                [by_user, article_id, self.clock()],
            )[0]
            queued = self.enqueue(article_id, chat_ids, kind="broadcast", broadcast_id=broadcast_id)
            self._update("broadcasts", broadcast_id, {"recipients": queued})
        return int(broadcast_id), queued

    def cancel_broadcast(self, broadcast_id: int) -> int:
        """What of a broadcast has not reached its chat yet is skipped; a part on its way
        finishes. A copy already in a chat keeps its row's work (a withdrawal queued for
        it still deletes it)."""
        return self._exec(
            f"UPDATE deliveries SET status = '{SKIPPED}', last_error = 'broadcast cancelled',"
            f" updated_at = ? WHERE broadcast_id = ? AND status = '{QUEUED}' AND NOT {HAS_COPY}",
            [self.clock(), broadcast_id],
        )

    def broadcast_row(self, broadcast_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM broadcasts WHERE id = ?", [broadcast_id])
        return rows[0] if rows else None

    def broadcasts_from_outside(self, after: int) -> list[dict[str, Any]]:
        """Broadcasts no admin made in a chat (``noticebot broadcast``, ``announce``)
        recorded after broadcast ``after``: the running bot logs them as its own."""
        return self._rows(
            "SELECT * FROM broadcasts WHERE id > ? AND by_user IS NULL ORDER BY id", [after]
        )

    def unfinished_broadcasts(self) -> set[int]:
        """The broadcasts with deliveries still queued or being sent (each status named
        as a literal: the partial indexes hold only these rows)."""
        rows = self._rows(
            f"SELECT broadcast_id AS id FROM deliveries WHERE status = '{QUEUED}'"
            " AND broadcast_id IS NOT NULL UNION"
            f" SELECT broadcast_id FROM deliveries WHERE status = '{SENDING}'"
            " AND broadcast_id IS NOT NULL"
        )
        return {r["id"] for r in rows}

    def recipients(self, article_id: str | None) -> int:
        """How many active chats a broadcast of ``article_id`` would reach now: those
        without it, as :meth:`enqueue` counts them (a row settled without the notice, as
        a cancelled broadcast leaves it, is queued again)."""
        return self._rows(
            "SELECT COUNT(*) AS n FROM chats c WHERE c.active = 1 AND c.subscribed = 1"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.chat_id = c.id"
            f" AND d.article_id = ? AND d.status NOT IN ('{SKIPPED}', '{RETRACTED}', '{FAILED}'))",
            [article_id],
        )[0]["n"]

    def broadcast_progress(self, broadcast_id: int) -> dict[str, int]:
        rows = self._rows(
            "SELECT d.status AS status, COUNT(*) AS n,"
            " SUM(CASE WHEN c.active = 0 THEN 1 ELSE 0 END) AS gone"
            " FROM deliveries d LEFT JOIN chats c ON c.id = d.chat_id"
            " WHERE d.broadcast_id = ? GROUP BY d.status",
            [broadcast_id],
        )
        counts = {r["status"]: r["n"] for r in rows}
        deactivated = sum(r["gone"] or 0 for r in rows if r["status"] == SKIPPED)
        return {
            "sent": counts.get(SENT, 0),
            "failed": counts.get(FAILED, 0),
            "deactivated": deactivated,
            "skipped": counts.get(SKIPPED, 0) - deactivated,
            "remaining": counts.get(QUEUED, 0) + counts.get(SENDING, 0),
        }
