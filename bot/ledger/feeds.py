"""Feeds as the ledger remembers them: the last fetch, the last change, errors."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ledger.base import LedgerBase


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float | None = None
    changed_at: float | None = None
    baselined_at: float | None = None
    entries: int = 0
    error: str | None = None
    error_at: float | None = None
    failures: int = 0
    next_at: float | None = None


class Feeds(LedgerBase):
    def feed_state(self, url: str) -> FeedState:
        rows = self._rows("SELECT * FROM feeds WHERE url = ?", [url])
        return FeedState(**rows[0]) if rows else FeedState(url)

    def feed_states(self) -> list[FeedState]:
        return [FeedState(**row) for row in self._rows("SELECT * FROM feeds ORDER BY url")]

    def save_feed_state(self, state: FeedState) -> None:
        self._insert("feeds", vars(state), replace=True)
