"""Articles as the ledger knows them: the files they came from, their status, search."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.errors import SearchTooSlow
from bot.ledger.states import ACTIVE, ANNOUNCEMENT
from bot.ledger.visibility import (
    READABLE_STATUSES,
    is_readable,
    readable_since_sql,
    readable_sql,
)

__all__ = ["Catalogue", "FileState", "SearchTooSlow"]

SEARCH_WITHIN = 2.0  # seconds a search may hold the ledger
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    article_id: str | None
    content_hash: str | None
    error: str | None = None


class Catalogue(LedgerBase):
    def save_version(self, article_id: str, version: str, content: str) -> None:
        """Keep what this version of the article says (``bot.reading.articles.article_to_json``)."""
        self._exec(
            "INSERT INTO versions (article_id, version, content, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [article_id, version, content, self.clock()],
        )

    def published(self, article_id: str) -> dict[str, Any] | None:
        """An article people may read now (active, or an announcement, and its date has
        come: :mod:`bot.ledger.visibility`), with ``version``: the one a delivery queued
        now would send. None for anything else, or nonsense."""
        if len(article_id) > 40:  # no id is longer; a huge "id" is not worth a query
            return None
        row = self.article(article_id)
        if row is None or not is_readable(row, self.clock()):
            return None
        return {**row, "version": row["content_hash"] or str(row["last_changed"])}

    def version_created(self, article_id: str, version: str) -> float | None:
        """When the scan first read this version: the time a correction shows."""
        rows = self._rows(
            "SELECT created_at FROM versions WHERE article_id = ? AND version = ?",
            [article_id, version],
        )
        return rows[0]["created_at"] if rows else None

    def has_version(self, article_id: str, version: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 AS kept FROM versions WHERE article_id = ? AND version = ?",
                [article_id, version],
            )
        )

    def version_content(self, article_id: str, version: str) -> str | None:
        rows = self._rows(
            "SELECT content FROM versions WHERE article_id = ? AND version = ?",
            [article_id, version],
        )
        return rows[0]["content"] if rows else None

    def file_states(self) -> dict[str, FileState]:
        """Every file the last scan saw (read as tuples: a rescan of a large archive is
        mostly this and the directory walk)."""
        rows = self._tuples(
            "SELECT path, size, mtime_ns, article_id, content_hash, error FROM files"
        )
        return {path: FileState(*state) for path, *state in rows}

    def record_file(self, path: str, state: FileState) -> None:
        self._exec(
            "INSERT INTO files (path, size, mtime_ns, article_id, content_hash, error)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, article_id = excluded.article_id,"
            " content_hash = excluded.content_hash, error = excluded.error",
            [path, state.size, state.mtime_ns, state.article_id, state.content_hash, state.error],
        )

    def invalid_files(self) -> int:
        return self._rows("SELECT COUNT(*) AS n FROM files WHERE error IS NOT NULL")[0]["n"]

    def forget_file(self, path: str) -> None:
        self._exec("DELETE FROM files WHERE path = ?", [path])

    def dates_of(self, article_ids: Iterable[str]) -> dict[str, float]:
        """The date of each notice the ledger has among ``article_ids``, in few queries
        (a feed's read asks for every entry's possible ids at once)."""
        wanted = list(dict.fromkeys(article_ids))
        dates: dict[str, float] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT id, date FROM articles WHERE id IN ({marks})", chunk):
                dates[row["id"]] = row["date"]
        return dates

    def file_state(self, path: str) -> FileState | None:
        rows = self._tuples(
            "SELECT size, mtime_ns, article_id, content_hash, error FROM files WHERE path = ?",
            [path],
        )
        return FileState(*rows[0]) if rows else None

    def article(self, article_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM articles WHERE id = ?", [article_id])
        return rows[0] if rows else None

    def save_article(self, row: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """Insert or update an article row: ('new' | 'changed' | 'same', the old row)."""
        now = self.clock()
        with self.transaction():
            old = self.article(row["id"])
            if old is None:
                self._insert("articles", {**row, "first_seen": now, "last_changed": now})
                return "new", None
            changed = any(old[key] != value for key, value in row.items())
            if changed:
                self._update("articles", row["id"], {**row, "last_changed": now})
            return ("changed" if changed else "same"), old

    def set_article_status(self, article_id: str, status: str, error: str | None = None) -> bool:
        return bool(
            self._exec(
                "UPDATE articles SET status = ?, error = ?, last_changed = ?"
                " WHERE id = ? AND status != ?",
                [status, error, self.clock(), article_id, status],
            )
        )

    def recent_articles(self, limit: int = 10, *, scheduled: bool = False) -> list[dict[str, Any]]:
        """The newest notices readers may see, newest first; ``scheduled``: those dated
        in the future too (for the operator's ``noticebot list``, never for a chat)."""
        if scheduled:
            where, params = "a.status IN (?, ?)", list(READABLE_STATUSES)
        else:
            where, params = readable_sql(), [self.clock()]
        return self._rows(
            f"SELECT id, date, title, status, path, expires FROM articles a WHERE {where}"
            " ORDER BY date DESC LIMIT ?",
            [*params, limit],
        )

    def add_announcement(self, text: str, title: str) -> str:
        now = self.clock()
        with self.transaction():
            (count,) = self._tuples(
                "SELECT COUNT(*) FROM articles WHERE status = ?", [ANNOUNCEMENT]
            )[0]
            article_id = f"ann{count + 1}"
            self._insert(
                "articles",
                {
                    "id": article_id,
                    "title": title,
                    "date": now,
                    "status": ANNOUNCEMENT,
                    "text": text,
                    "search_text": text,
                    "first_seen": now,
                    "last_changed": now,
                    "categories": "[]",
                    "tags": "[]",
                },
            )
        return article_id

    def index_for_search(self, batch: int = 25) -> int:
        """Put up to ``batch`` articles the search index lacks into it; how many.

        Called in a loop after each scan. A small batch holds the ledger for a few
        milliseconds, so the dispatcher's records go on between batches.
        """
        with self.transaction():
            return self.backend.index_for_search(batch)

    def index_all_for_search(self) -> int:
        """Everything at once, where nothing else waits for the ledger (benchmarks, tests)."""
        total = 0
        while added := self.index_for_search(batch=500):
            total += added
        return total

    def search(
        self, query: str, limit: int = 10, within: float = SEARCH_WITHIN
    ) -> list[dict[str, Any]]:
        """Readable articles matching every word of ``query``, newest first.

        Each backend finds words its own way (an index for words of three or more
        characters; most Chinese words have two, which are scanned for). Control
        characters are no part of a word. A search that takes longer than ``within``
        seconds is stopped (:class:`SearchTooSlow`). It reads on a connection of its
        own, so even a slow one keeps no other ledger call waiting.
        """
        words = [w for w in _CONTROLS.sub(" ", query).split() if w][:16]
        if not words:
            return []
        match, params = self.backend.words_sql(
            [w for w in words if len(w) >= 3], [w for w in words if len(w) < 3]
        )
        try:
            return self.backend.read_within(
                "SELECT a.id, a.title, a.date, a.expires FROM articles a"
                f" WHERE {readable_sql()} AND {match} ORDER BY a.date DESC LIMIT ?",
                [self.clock(), *params, limit],
                within,
            )
        except SearchTooSlow:
            raise SearchTooSlow(query) from None

    def articles_between(
        self, start: float, end: float, *, dated_from: float
    ) -> list[dict[str, Any]]:
        """Notices (not announcements: every chat had those) that became readable in
        ``[start, end)`` (:mod:`bot.ledger.visibility`), dated ``dated_from`` or later and
        not expired at ``end``, oldest first: what a digest lists. Active and readable
        since before ``end`` is readable at ``end`` (its date has come)."""
        since = readable_since_sql()
        return self._rows(
            "SELECT id, title, date, categories, tags, search_text FROM articles a"
            f" WHERE a.status = ? AND {since} >= ? AND {since} < ?"
            " AND a.date >= ? AND (a.expires IS NULL OR a.expires > ?) ORDER BY a.date",
            [ACTIVE, start, end, dated_from, end],
        )
