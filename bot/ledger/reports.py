"""What ``noticebot status`` and ``/stats`` show."""

from __future__ import annotations

import json
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.states import FAILED, OPEN_STATUSES, RETRACTED

TROUBLE = "trouble:"


class Reports(LedgerBase):
    def record_trouble(self, task: str, error: str) -> None:
        """A long-lived task failed and was started again: for ``noticebot status``."""
        self.set_meta(f"{TROUBLE}{task}", json.dumps({"at": self.clock(), "error": error}))

    def troubles(self) -> dict[str, dict[str, Any]]:
        rows = self._rows("SELECT key, value FROM meta WHERE key LIKE ?", [f"{TROUBLE}%"])
        return {r["key"].removeprefix(TROUBLE): json.loads(r["value"]) for r in rows}

    def failures_since(self, since: float) -> int:
        return self._rows(
            "SELECT COUNT(*) AS n FROM deliveries WHERE status = ? AND updated_at >= ?",
            [FAILED, since],
        )[0]["n"]

    def status(self, failures: int = 10) -> dict[str, Any]:
        def counts(sql: str) -> dict[str, int]:
            return {str(r["k"]): r["n"] for r in self._rows(sql)}

        return {
            "troubles": self.troubles(),
            "invalid_files": self._rows(
                "SELECT path, error AS reason FROM files WHERE error IS NOT NULL ORDER BY path"
            ),
            "feeds": self._rows(
                "SELECT url, fetched_at, changed_at, entries, error, error_at, failures, next_at"
                " FROM feeds ORDER BY url"
            ),
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
            "upkeep": self._rows(
                "SELECT COALESCE(SUM(edits), 0) AS edits,"
                f" COALESCE(SUM(CASE WHEN status = '{RETRACTED}' THEN 1 ELSE 0 END), 0)"
                " AS retracted,"
                " COALESCE(SUM(pinned), 0) AS pinned FROM deliveries"
            )[0],
            "last_failures": self._rows(
                "SELECT article_id, chat_id, status, attempts, last_error, updated_at"
                " FROM deliveries WHERE status = ? OR (status IN (?, ?) AND last_error IS NOT NULL)"
                " ORDER BY updated_at DESC LIMIT ?",
                [FAILED, *OPEN_STATUSES, failures],
            ),
        }
