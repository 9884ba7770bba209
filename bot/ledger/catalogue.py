"""Articles as the ledger knows them: the files they came from, their status, search."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.ledger.base import LedgerBase
from bot.ledger.states import ACTIVE, ANNOUNCEMENT
from bot.ledger.visibility import (
    READABLE_STATUSES,
    is_readable,
    readable_since_sql,
    readable_sql,
)

SEARCH_WITHIN = 2.0  # seconds a search may hold the ledger
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SearchTooSlow(Exception):
    """A search stopped at its time limit (a pathological query, a huge archive)."""


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
            "INSERT OR IGNORE INTO versions (article_id, version, content, created_at)"
            " VALUES (?, ?, ?, ?)",
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
        with self._lock:
            rows = self.db.execute(
                "SELECT path, size, mtime_ns, article_id, content_hash, error FROM files"
            ).fetchall()
        return {path: FileState(*state) for path, *state in rows}

    def record_file(self, path: str, state: FileState) -> None:
        self._exec(
            "INSERT OR REPLACE INTO files (path, size, mtime_ns, article_id, content_hash, error)"
            " VALUES (?, ?, ?, ?, ?, ?)",
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
        with self._lock:
            row = self.db.execute(
                "SELECT size, mtime_ns, article_id, content_hash, error FROM files WHERE path = ?",
                [path],
            ).fetchone()
        return FileState(*row) if row else None

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
            count = self.db.execute(
                "SELECT COUNT(*) FROM articles WHERE status = ?", [ANNOUNCEMENT]
            ).fetchone()[0]
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
            rows = self.db.execute(
                "SELECT rowid, title, search_text FROM articles WHERE indexed = 0 LIMIT ?", [batch]
            ).fetchall()
            self.db.conn.executemany(
                "INSERT INTO articles_fts (rowid, title, search_text) VALUES (?, ?, ?)", rows
            )
            self.db.conn.executemany(
                "UPDATE articles SET indexed = 1 WHERE rowid = ?", [(row[0],) for row in rows]
            )
        return len(rows)

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

        Words of three or more characters use the trigram index (quoted, so FTS
        syntax in a query is just text), and LIKE for articles not indexed yet;
        shorter words (most Chinese words have two characters) always use LIKE.
        Control characters are no part of a word. A search that takes longer than
        ``within`` seconds is stopped (:class:`SearchTooSlow`). It reads on a connection
        of its own, so even a slow one keeps no other ledger call waiting.
        """
        words = [w for w in _CONTROLS.sub(" ", query).split() if w][:16]
        if not words:
            return []
        long_words = [w for w in words if len(w) >= 3]
        short_words = [w for w in words if len(w) < 3]
        where = [readable_sql()]
        params: list[Any] = [self.clock()]
        if long_words:
            likes, like_params = _all_like(long_words)
            where.append(
                "(a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
                f" OR (a.indexed = 0 AND {likes}))"
            )
            params += [" ".join('"' + w.replace('"', '""') + '"' for w in long_words)]
            params += like_params
        if short_words:
            likes, like_params = _all_like(short_words)
            where.append(likes)
            params += like_params
        deadline = time.monotonic() + within
        with self.reading() as conn:
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            try:
                cursor = conn.execute(
                    "SELECT a.id, a.title, a.date, a.expires FROM articles a"
                    f" WHERE {' AND '.join(where)} ORDER BY a.date DESC LIMIT ?",
                    [*params, limit],
                )
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except sqlite3.OperationalError as error:
                if "interrupted" not in str(error):
                    raise
                raise SearchTooSlow(query) from None
            finally:
                conn.set_progress_handler(None, 0)

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


def _all_like(words: list[str]) -> tuple[str, list[str]]:
    """SQL that holds when every word is in the title or the text, and its parameters."""
    clause = "(a.title LIKE ? ESCAPE '\\' OR a.search_text LIKE ? ESCAPE '\\')"
    params: list[str] = []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    return " AND ".join([clause] * len(words)), params
