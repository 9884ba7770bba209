"""The ledger's connection: one SQLite file (sqlite-utils), its lock and transactions.

Threading choice: one connection, opened with ``check_same_thread=False`` and
serialized by a lock, called directly from the event loop (and from the scan,
feed, search-index and metrics threads, through the same lock). Every call is one or
a few indexed statements (well under a millisecond on the benchmark's 10,000
articles), cheaper than a hop to a worker thread; the scan's bulk writes run in
one transaction per scan.

Durability: WAL with ``synchronous=NORMAL``: a killed process loses nothing that
was committed; only a power cut can lose the last transactions. A delivery is
marked ``sent`` part by part, only after Telegram confirmed the part, so a crash
can repeat at most the one part that was in flight.

Schema changes are forward migrations numbered by ``PRAGMA user_version``: a
later release opens an older database and upgrades it in place.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.config import ConfigError
from bot.ledger.owner import Owner
from bot.ledger.schema import MIGRATIONS, SCHEMA_VERSION

Clock = Callable[[], float]


class LedgerUnusable(ConfigError):
    """The ledger path names no ledger that can be opened (a directory, a path below a
    file, a file that is not a database): a configuration mistake, said in one line."""


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


class LedgerBase:
    """What every part of the ledger shares. All methods are synchronous and short."""

    def __init__(self, path: Path | str, clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.db = _connect(self.path)
        self.clock = clock
        self._lock = threading.RLock()
        self._own_records = 0  # rows the sender's records changed (see Deliveries.current)
        self.owner = Owner(self.path)
        self._migrate()
        # Searches read on a connection of their own (WAL: readers wait for no writer),
        # so a slow one holds neither the ledger's lock nor the handlers that need it.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
        with self._lock:
            self.db.conn.close()
        self.owner.release()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The read-only connection, one reader at a time, beside the ledger's own."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, check_same_thread=False)
                self._reader.execute("PRAGMA query_only=1")
                self._reader.execute("PRAGMA busy_timeout=5000")
            yield self._reader

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self.db.conn.in_transaction:
                yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        """Apply what is missing, each step then its version number.

        Not one transaction: sqlite-utils commits inside some steps (FTS setup),
        so every step is written to be safe to run again after a crash.
        """
        with self._lock:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerTooNew(
                    f"{self.path} has schema version {version}, newer than this "
                    f"noticebot ({SCHEMA_VERSION}); upgrade noticebot"
                )
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(self.db)
                self.db.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _rows(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.db.execute(sql, params if isinstance(params, dict) else list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _exec(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        with self._lock:
            values = params if isinstance(params, dict) else list(params)
            return self.db.execute(sql, values).rowcount

    def _insert(self, table: str, row: dict[str, Any], *, replace: bool = False) -> int:
        """Plain SQL, so it joins the caller's transaction (sqlite-utils' own would commit)."""
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self._lock:
            cursor = self.db.execute(
                f"{verb} INTO {table} ({names}) VALUES ({marks})", list(row.values())
            )
            return int(cursor.lastrowid or 0)

    def _update(self, table: str, key: Any, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{name} = ?" for name in values)
        self._exec(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), key])

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def metas(self, prefix: str) -> dict[str, str]:
        """Every meta value whose key begins with ``prefix``, by the rest of its key."""
        rows = self._rows(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ?", [prefix, prefix + "\uffff"]
        )
        return {row["key"][len(prefix) :]: row["value"] for row in rows}

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])


class LedgerTooNew(LedgerUnusable, RuntimeError):
    """A ledger written by a later noticebot: upgrade this one."""


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
