"""The ledger in one SQLite file (sqlite-utils): the embedded default, for one machine.

Threading choice: one connection, opened with ``check_same_thread=False`` and
serialized by the ledger's lock, called directly from the event loop (and from the
scan, feed, search-index and metrics threads, through the same lock). Every call is
one or a few indexed statements (well under a millisecond on the benchmark's 10,000
articles), cheaper than a hop to a worker thread; the scan's bulk writes run in one
transaction per scan.

Durability: WAL with ``synchronous=NORMAL``: a killed process loses nothing that
was committed; only a power cut can lose the last transactions.

Schema changes are forward migrations numbered by ``PRAGMA user_version``: a
later release opens an older database and upgrades it in place.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.ledger.errors import LedgerTooNew, LedgerUnusable, SearchTooSlow
from bot.ledger.owner import Owner
from bot.ledger.schema import MIGRATIONS, SCHEMA_VERSION

Params = Sequence[Any] | dict[str, Any]


def probe(path: Path) -> bool:
    """Whether a ledger is at ``path``, read without writing a byte (no WAL switch, no
    upgrade: a backup copies a ledger as it is): False for a file no ledger was ever
    written to (empty, or a database without tables), which only a command allowed to
    create a ledger may make into one; :class:`LedgerUnusable` if it names none."""
    try:
        if path.is_file() and path.stat().st_size == 0:
            return False
    except (OSError, ValueError):
        pass  # for the opening below to word
    try:
        # read-write, only read: closed, the last connection to a WAL ledger removes its
        # -wal and -shm files, where a read-only one would leave them behind
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA query_only=1")
            tables, version = _tables(conn), conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        _connect(path).conn.close()  # what is wrong with it, worded as every opening does
        return True
    _refuse_foreign(path, tables, version)
    return bool(tables)


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def _refuse_foreign(path: Path, tables: set[str], version: int) -> None:
    """Refuse another program's database: at version 0 (never migrated) a table that is
    none of noticebot's says the file belongs to someone else, and upgrading it in place
    would write noticebot's tables (and WAL mode) into their file."""
    foreign = sorted(tables - _own_tables()) if version == 0 and tables else []
    if foreign:
        raise LedgerUnusable(
            f"ledger {path}: not a noticebot ledger (it holds another program's tables:"
            f" {', '.join(foreign)})"
        )


@functools.cache
def _own_tables() -> frozenset[str]:
    """Every table the migrations make, found by making them in memory (only when a
    version-0 database with tables is opened), so the list cannot fall behind them."""
    db = sqlite_utils.Database(memory=True)
    try:
        for migration in MIGRATIONS:
            migration(db)
        return frozenset(_tables(db.conn))
    finally:
        db.conn.close()


def _connect(path: Path) -> sqlite_utils.Database:
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db = sqlite_utils.Database(conn)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            _refuse_foreign(path, _tables(conn), version)  # before WAL mode writes to it
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            conn.close()
            raise
        return db
    except LedgerUnusable:
        raise
    except (OSError, ValueError, sqlite3.Error) as error:
        raise LedgerUnusable(f"ledger {path}: {_why(path, error)}") from None


class SqliteBackend:
    """One SQLite file; the statements every backend shares are written in SQL both
    engines read (``INSERT … ON CONFLICT``, ``RETURNING``), so what is here is only
    what SQLite does its own way: the connection, search, migrations."""

    kind = "sqlite"

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.lock = lock
        self.path = path
        self.where = str(path)
        self.db = _connect(path)
        self.owner = Owner(path)
        # Searches read on a connection of their own (WAL: readers wait for no writer),
        # so a slow one holds neither the ledger's lock nor the handlers that need it.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
        self.db.conn.close()
        self.owner.release()

    @property
    def changes(self) -> int:
        """Rows written on this connection so far (triggers' included)."""
        return self.db.conn.total_changes

    def rows(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.db.execute(sql, params if isinstance(params, dict) else list(params))
        return [d[0] for d in cursor.description or ()], cursor.fetchall()

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.db.execute(sql, params if isinstance(params, dict) else list(params)).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        before = self.changes
        self.db.conn.executemany(sql, rows)
        return self.changes - before

    @property
    def in_transaction(self) -> bool:
        return self.db.conn.in_transaction

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")  # the one writer at a time, from the start

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self.db.execute("ROLLBACK")

    def migrate(self) -> None:
        """Apply what is missing, each step then its version number.

        Not one transaction: sqlite-utils commits inside some steps (FTS setup),
        so every step is written to be safe to run again after a crash.
        """
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise LedgerTooNew(
                f"{self.path} has schema version {version}, newer than this "
                f"noticebot ({SCHEMA_VERSION}); upgrade noticebot"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            migration(self.db)
            self.db.execute(f"PRAGMA user_version={number}")

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def index_for_search(self, batch: int) -> int:
        """Trigram indexing costs about 1 ms an article, more than reading it: done
        after a scan, a batch at a time (schema v8), never during it."""
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

    def words_sql(self, long_words: list[str], short_words: list[str]) -> tuple[str, list[Any]]:
        """Words of three or more characters use the FTS5 trigram index (quoted, so FTS
        syntax in a query is just text), and LIKE for articles not indexed yet; shorter
        words (most Chinese words have two characters) always use LIKE."""
        where: list[str] = []
        params: list[Any] = []
        if long_words:
            likes, like_params = all_like(long_words, "LIKE")
            where.append(
                "(a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
                f" OR (a.indexed = 0 AND {likes}))"
            )
            params += [" ".join('"' + w.replace('"', '""') + '"' for w in long_words)]
            params += like_params
        if short_words:
            likes, like_params = all_like(short_words, "LIKE")
            where.append(likes)
            params += like_params
        return " AND ".join(where), params

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, check_same_thread=False)
                self._reader.execute("PRAGMA query_only=1")
                self._reader.execute("PRAGMA busy_timeout=5000")
            yield self._reader

    def read_within(self, sql: str, params: list[Any], within: float) -> list[dict[str, Any]]:
        """A read on the reader's connection, stopped after ``within`` seconds."""
        deadline = time.monotonic() + within
        with self._reading() as conn:
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            try:
                cursor = conn.execute(sql, params)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except sqlite3.OperationalError as error:
                if "interrupted" not in str(error):
                    raise
                raise SearchTooSlow(sql) from None
            finally:
                conn.set_progress_handler(None, 0)


def all_like(words: list[str], like: str) -> tuple[str, list[str]]:
    """SQL that holds when every word is in the title or the text, and its parameters."""
    clause = f"(a.title {like} ? ESCAPE '\\' OR a.search_text {like} ? ESCAPE '\\')"
    params: list[str] = []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    return " AND ".join([clause] * len(words)), params


def _why(path: Path, error: BaseException) -> str:
    """What is wrong with a ledger path, as its owner would fix it."""
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return "is a directory, not a ledger file"
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        return "a folder on its path is a file"
    if isinstance(error, sqlite3.DatabaseError) and "not a database" in str(error):
        return "not a noticebot ledger (the file is not an SQLite database)"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, sqlite3.Error):
        return f"cannot be opened as a database ({error})"
    return error.strerror or str(error) if isinstance(error, OSError) else str(error)
