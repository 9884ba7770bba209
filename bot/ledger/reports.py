"""What ``noticebot status`` and ``/stats`` show."""

from __future__ import annotations

from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.states import FAILED, OPEN_STATUSES


class Reports(LedgerBase):
    def failures_since(self, since: float) -> int:
        return self._rows(
            "SELECT COUNT(*) AS n FROM deliveries WHERE status = ? AND updated_at >= ?",
            [FAILED, since],
        )[0]["n"]

    def status(self, failures: int = 10) -> dict[str, Any]:
        def counts(sql: str) -> dict[str, int]:
            return {str(r["k"]): r["n"] for r in self._rows(sql)}

        return {
            "articles": counts("SELECT status AS k, COUNT(*) AS n FROM articles GROUP BY status"),
            "chats": {
                "active": self._rows(
                    "SELECT COUNT(*) AS n FROM chats WHERE active = 1 AND subscribed = 1"
                )[0]["n"],
                "inactive": self._rows(
                    "SELECT id, type, title, deactivated_reason AS reason FROM chats"
                    " WHERE active = 0 ORDER BY updated_at DESC"
                ),
                "unsubscribed": self._rows(
                    "SELECT COUNT(*) AS n FROM chats WHERE active = 1 AND subscribed = 0"
                )[0]["n"],
            },
            "deliveries": counts(
                "SELECT status AS k, COUNT(*) AS n FROM deliveries GROUP BY status"
            ),
            "last_failures": self._rows(
                "SELECT article_id, chat_id, status, attempts, last_error, updated_at"
                " FROM deliveries WHERE status = ? OR (status IN (?, ?) AND last_error IS NOT NULL)"
                " ORDER BY updated_at DESC LIMIT ?",
                [FAILED, *OPEN_STATUSES, failures],
            ),
        }
