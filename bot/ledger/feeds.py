"""Feeds as the ledger remembers them: the feeds the admins added (the configured ones
live in the configuration), and of every feed its last fetch, change and errors."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ledger.base import LedgerBase
from bot.reading.identity import short_hash


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
    title: str | None = None  # as the feed calls itself, at its last good read
    failing_since: float | None = None  # the first failure of those in a row
    told_failing: int = 0  # the admins were told it fails (and are told when it recovers)


@dataclass(frozen=True)
class FeedSource:
    """A feed to read: one an admin added (``added_at``), or a configured one (None)."""

    url: str
    title: str | None = None  # the admin's name for it (from an OPML file); else the feed's
    category: str | None = None  # given to each of its notices, for /subscribe's filters
    interval: float | None = None  # seconds between fetches; None: NOTICEBOT_FEED_INTERVAL
    paused: bool = False
    added_at: float | None = None
    added_by: str | None = None  # a user id, or "cli"

    @property
    def id(self) -> str:
        """A short name for buttons and the command line (an address is too long)."""
        return short_hash(f"feed\n{self.url}")

    @property
    def configured(self) -> bool:
        return self.added_at is None


class Feeds(LedgerBase):
    def feed_state(self, url: str) -> FeedState:
        rows = self._rows("SELECT * FROM feeds WHERE url = ?", [url])
        return FeedState(**rows[0]) if rows else FeedState(url)

    def feed_states(self) -> list[FeedState]:
        return [FeedState(**row) for row in self._rows("SELECT * FROM feeds ORDER BY url")]

    def save_feed_state(self, state: FeedState) -> None:
        self._insert("feeds", vars(state), key="url")

    def feed_sources(self) -> list[FeedSource]:
        """The feeds the admins added, in the order they were."""
        return self._feed_sources()

    def _feed_sources(self, where: str = "", params: list[str] | None = None) -> list[FeedSource]:
        rows = self._rows(
            "SELECT url, title, category, interval, paused, added_at, added_by"
            f" FROM feed_sources {where} ORDER BY added_at, url",
            params or [],
        )
        return [FeedSource(**{**row, "paused": bool(row["paused"])}) for row in rows]

    def feed_source(self, url: str) -> FeedSource | None:
        """One feed the admins added, by its address as kept."""
        return next((s for s in self._feed_sources("WHERE url = ?", [url])), None)

    def add_feed_source(self, source: FeedSource) -> None:
        """A new feed; its state starts afresh (a feed removed and added again is taken in
        anew: its current entries are its baseline)."""
        with self.transaction():
            row = {**vars(source), "id": source.id, "paused": int(source.paused)}
            self._insert("feed_sources", row)
            self._exec("DELETE FROM feeds WHERE url = ?", [source.url])

    def pause_feed_source(self, url: str, paused: bool) -> bool:
        """Whether the feed's state changed."""
        return bool(
            self._exec(
                "UPDATE feed_sources SET paused = ? WHERE url = ? AND paused != ?",
                [int(paused), url, int(paused)],
            )
        )

    def remove_feed_source(self, url: str) -> bool:
        with self.transaction():
            self._exec("DELETE FROM feeds WHERE url = ?", [url])
            return bool(self._exec("DELETE FROM feed_sources WHERE url = ?", [url]))

    def feed_notices(self, url: str) -> list[str]:
        """The published notices read from the feed (its entries' files are ``url#id``)."""
        rows = self._rows(
            "SELECT id FROM articles WHERE status = 'active' AND substr(path, 1, ?) = ?",
            [len(url) + 1, f"{url}#"],
        )
        return [row["id"] for row in rows]

    def feed_last_new(self, url: str, baselined_at: float | None) -> float | None:
        """When the feed last brought a new notice (its baseline's entries are not new)."""
        rows = self._rows(
            "SELECT max(first_seen) AS at FROM articles WHERE substr(path, 1, ?) = ?"
            " AND first_seen > ?",
            [len(url) + 1, f"{url}#", baselined_at or 0.0],
        )
        return rows[0]["at"] if rows else None
