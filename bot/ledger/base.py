"""What every part of the ledger shares: its backend, its lock, transactions.

The ledger speaks one SQL to both backends (:mod:`bot.ledger.sqlite`, the embedded
default; :mod:`bot.ledger.postgres`, for a ledger that outlives a machine): upserts as
``INSERT … ON CONFLICT``, claims as ``UPDATE … RETURNING``. A backend holds only what
its engine does its own way: the connection, transactions, search, the schema.

A delivery is marked ``sent`` part by part, only after Telegram confirmed the part,
so a crash can repeat at most the one part that was in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.ledger.errors import LedgerTooNew, LedgerUnusable
from bot.ledger.sqlite import SqliteBackend

Clock = Callable[[], float]

__all__ = ["Clock", "LedgerBase", "LedgerTooNew", "LedgerUnusable", "is_server"]


def is_server(where: Path | str) -> bool:
    """Whether ``where`` names a database server (a ``postgresql://`` URL), not a file."""
    return str(where).startswith(("postgresql://", "postgres://"))


def open_backend(where: Path | str, lock: threading.RLock) -> Any:
    if is_server(where):
        from bot.ledger.postgres import PostgresBackend  # psycopg only where it is used

        return PostgresBackend(str(where), lock)
    return SqliteBackend(Path(where), lock)


class LedgerBase:
    """What every part of the ledger shares. Its methods are synchronous and short, but
    for the records the reconciler awaits (:meth:`Deliveries.settle`, ``record_copy``)."""

    def __init__(self, where: Path | str, clock: Clock = time.time) -> None:
        self._lock = threading.RLock()
        self.backend = open_backend(where, self._lock)
        self.clock = clock
        self._own_records = 0  # rows the sender's records changed (see Deliveries.current)
        self.owner = self.backend.owner
        try:
            with self._lock:
                self.backend.migrate()
        except BaseException:
            self.backend.close()
            raise

    @property
    def db(self) -> Any:
        """The SQLite database (sqlite-utils), for tests and tools that read it raw."""
        return self.backend.db

    @property
    def path(self) -> Path:
        """The SQLite file, for tests and tools that open it themselves."""
        return self.backend.path

    @property
    def is_server(self) -> bool:
        """Whether the ledger is on a database server (PostgreSQL), not in a file."""
        return self.backend.kind != "sqlite"

    @property
    def where(self) -> str:
        """The ledger as its owner names it (a path, or a URL without its password)."""
        return self.backend.where

    def close(self) -> None:
        with self._lock:
            self.backend.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self.backend.in_transaction:
                yield
                return
            self.backend.begin()
            try:
                yield
            except BaseException:
                self.backend.rollback()
                raise
            self.backend.commit()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self.backend.schema_version()

    @property
    def changes(self) -> int:
        with self._lock:
            return self.backend.changes

    def _rows(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            names, rows = self.backend.rows(sql, _values(params))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _tuples(
        self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Rows as tuples: for reads of many rows, where dicts would cost."""
        with self._lock:
            return self.backend.rows(sql, _values(params))[1]

    def _exec(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        with self._lock:
            return self.backend.execute(sql, _values(params))

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._lock:
            return self.backend.executemany(sql, rows)

    def _insert(self, table: str, row: dict[str, Any], *, key: str | None = None) -> None:
        """Plain SQL, so it joins the caller's transaction (sqlite-utils' own would commit);
        with ``key``, a row already there under that key is updated instead."""
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))
        upsert = ""
        if key is not None:
            sets = ", ".join(f"{name} = excluded.{name}" for name in row if name != key)
            upsert = f" ON CONFLICT ({key}) DO UPDATE SET {sets}"
        self._exec(f"INSERT INTO {table} ({names}) VALUES ({marks}){upsert}", list(row.values()))

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
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )


def _values(params: Iterable[Any] | dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
    return params if isinstance(params, dict) else list(params)
