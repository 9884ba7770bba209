"""A whole ledger copied into another, either way between SQLite and PostgreSQL, and
checked after: every row of every table, with its ids.

Rows, not a dump: the two engines share tables and columns but nothing below them.
The copy goes into an empty ledger only (merged into a live one, two histories of
the same chats would become one neither of them is), in one transaction on the
target, so a failure leaves it as empty as it was. The source is read inside its
writer's transaction, so the rows copied are one moment's, and nothing of noticebot
writes to it meanwhile. Then each table is counted and hashed on both sides, the same
way, in Python: a difference is named, and the target is left empty.

What is not copied is not ledger data: SQLite's search index (``articles_fts*``,
refilled from the articles after the copy) and PostgreSQL's process state (the lease
tables, ``ledger_version``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bot.ledger import Store
from bot.ledger.base import is_server
from bot.logs import shown_url

BATCH = 1000  # rows read and written at a time: a few MB at most, with articles' texts
# Columns that say what another structure holds, not what happened: ``indexed`` is
# whether SQLite's search index has the article, which a copy into SQLite refills.
DERIVED = {"articles": frozenset({"indexed"})}

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\);", re.S)
_KEY = re.compile(r"PRIMARY KEY \(([^)]*)\)")
_INLINE_KEY = re.compile(r"(?:^|,)\s*(\w+)\s[^,]*?\bPRIMARY KEY\b")


class TransferError(Exception):
    """The copy cannot be made, or the copy is not the source: said in one line."""


class Counted(NamedTuple):
    """A table as the check found it: its rows and their checksum (sha256, hex)."""

    rows: int
    checksum: str


@dataclass(frozen=True)
class Report:
    """What was copied, table by table (equal on both sides), and how long it took."""

    tables: dict[str, Counted]
    seconds: float
    indexed: int = 0  # articles put into the target's search index (SQLite) after the copy

    @property
    def rows(self) -> int:
        return sum(counted.rows for counted in self.tables.values())


@functools.cache
def ledger_tables() -> dict[str, tuple[str, ...]]:
    """Every table of the ledger with its primary key, read from the PostgreSQL schema,
    which is made whole at the current version (SQLite's migrations make the same
    tables): so the list cannot fall behind the schema."""
    from bot.ledger.postgres import TABLES

    tables: dict[str, tuple[str, ...]] = {}
    for name, body in _TABLE.findall(TABLES):
        composite = _KEY.search(body)
        inline = _INLINE_KEY.search(body)
        if composite:
            tables[name] = tuple(column.strip() for column in composite.group(1).split(","))
        else:
            tables[name] = (inline.group(1),) if inline else ()
    return tables


def require_ledger(where: Path | str) -> None:
    """Refuse a source that holds no ledger, before opening it would make one there."""
    if is_server(where):
        from bot.ledger.postgres import probe_server

        found = probe_server(str(where))
    else:
        from bot.ledger.sqlite import probe

        found = Path(where).is_file() and probe(Path(where))
    if not found:
        raise TransferError(f"no ledger at {shown_url(str(where))}: nothing to copy")


def copy_ledger_rows(source: Store, target: Store, *, batch: int = BATCH) -> Report:
    """Copy every row of ``source`` into the empty ``target``, ids kept, and check that
    each table has the same rows on both sides (:class:`TransferError` if not)."""
    began = time.monotonic()
    tables = ledger_tables()
    _refuse_same(source, target)
    for store in (source, target):
        if store.owner.held_elsewhere():
            raise TransferError(
                f"a noticebot is running on {store.where}: stop it first (the copy must be"
                " of a ledger at rest, and into one nothing sends from)"
            )
    _refuse_filled(target, tables)  # before waiting for any lock
    with _naming(), _snapshot(source), target.transaction():
        _refuse_filled(target, tables)  # as it is now, under its writer's lock
        for table, key in tables.items():
            with _naming(table):
                _copy_table(source, target, table, key, batch)
        if target.backend.kind == "postgresql":
            _advance_sequences(target, tables)
        else:
            target._exec("UPDATE articles SET indexed = 0")  # its search index is empty
        want = checksums(source, batch=batch)
        got = checksums(target, batch=batch)
        for table in tables:
            if want[table] != got[table]:
                raise TransferError(
                    f"{table}: the copy differs from the source ({want[table].rows} rows,"
                    f" checksum {want[table].checksum[:12]}; copied {got[table].rows} rows,"
                    f" checksum {got[table].checksum[:12]}): nothing copied"
                )
    indexed = 0
    if target.backend.kind == "sqlite":
        with _naming("articles_fts"):
            indexed = target.index_all_for_search()
    return Report(got, time.monotonic() - began, indexed)


def checksums(store: Store, *, batch: int = BATCH) -> dict[str, Counted]:
    """Each ledger table's rows and a checksum of them that is the same on either backend:
    sha256 over the column names and then the rows in primary key order, the columns by
    name (those in :data:`DERIVED` left out), each row as Python writes its values (an
    integer, a float by its repr, quoted text, None), so that 1, 1.0 and "1" differ."""
    counted: dict[str, Counted] = {}
    for table, key in ledger_tables().items():
        with _naming(table):
            counted[table] = _checksum(store, table, key, batch)
    return counted


def _checksum(store: Store, table: str, key: tuple[str, ...], batch: int) -> Counted:
    names = _columns(store, table)
    kept = sorted(n for n in names if n not in DERIVED.get(table, ()))
    where = [names.index(n) for n in kept]
    digest = hashlib.sha256(_line(kept))
    rows = 0
    for page in _pages(store, table, key, names, batch):
        rows += len(page)
        digest.update(b"".join(_line([row[i] for i in where]) for row in page))
    _check_all_read(store, table, rows)
    return Counted(rows, digest.hexdigest())


def _line(values: Sequence[Any]) -> bytes:
    """A row as one line: ``repr`` tells the types apart and escapes every line break."""
    return repr(list(values)).encode("utf-8", "backslashreplace") + b"\n"


def _copy_table(source: Store, target: Store, table: str, key: tuple[str, ...], batch: int) -> None:
    names = _columns(source, table)
    theirs = _columns(target, table)
    if set(names) != set(theirs):
        missing = sorted(set(names) - set(theirs)) or ["-"]
        extra = sorted(set(theirs) - set(names)) or ["-"]
        raise TransferError(
            f"{table}: the two ledgers' columns differ (only in the source: {', '.join(missing)};"
            f" only in the target: {', '.join(extra)}): are both at the same schema version?"
        )
    columns = ", ".join(f'"{name}"' for name in names)
    insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})"
    rows = 0
    for page in _pages(source, table, key, names, batch):
        target._exec_many(insert, page)
        rows += len(page)
    _check_all_read(source, table, rows)


def _columns(store: Store, table: str) -> list[str]:
    with store._lock:
        return store.backend.rows(f"SELECT * FROM {table} LIMIT 0")[0]


def _pages(
    store: Store, table: str, key: tuple[str, ...], names: list[str], batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in primary key order, ``batch`` at a time (after the last key
    read: each page an index lookup). Both engines order text by its bytes."""
    if not key:  # no key to page by: one page, in an order both sides agree on
        rows = store._tuples(f"SELECT * FROM {table}")
        yield sorted(rows, key=_line)
        return
    order = ", ".join(f'"{column}"' for column in key)
    at = [names.index(column) for column in key]
    last: list[Any] | None = None
    while True:
        after = f" WHERE ({order}) > ({', '.join('?' * len(key))})" if last else ""
        page = store._tuples(
            f"SELECT * FROM {table}{after} ORDER BY {order} LIMIT {batch}", last or []
        )
        if page:
            yield page
        if len(page) < batch:
            return
        last = [page[-1][i] for i in at]
        if None in last:
            raise TransferError(f"{table}: a row without its key ({', '.join(key)} NULL)")


def _check_all_read(store: Store, table: str, rows: int) -> None:
    """A row the key order cannot reach (SQLite lets a text key be NULL) is not skipped."""
    (count,) = store._tuples(f"SELECT COUNT(*) FROM {table}")[0]
    if count != rows:
        raise TransferError(
            f"{table}: {count} rows, of which {rows} could be read in key order"
            " (a row without its key?)"
        )


def _advance_sequences(target: Store, tables: dict[str, tuple[str, ...]]) -> None:
    """Ids were copied as they were: each identity column's next value follows them, or
    the next delivery would take an id a copied one has."""
    rows = target._tuples(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    )
    for table, column in rows:
        if table in tables:
            target._exec(
                f'SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX("{column}"), 0) + 1,'
                f" false) FROM {table}",
                [table, column],
            )


def _refuse_same(source: Store, target: Store) -> None:
    """One ledger named two ways (a path through a link, a URL spelled otherwise) is not
    copied into itself: empty, it would wait for its own writer's lock for ever."""
    kinds = source.backend.kind, target.backend.kind
    same = source.where == target.where
    if not same and kinds == ("sqlite", "sqlite"):
        try:
            same = source.path.samefile(target.path)
        except OSError:
            same = False
    elif not same and kinds == ("postgresql", "postgresql"):
        with _naming():  # the target's server sees the source's session in its database
            pid, started = source._tuples(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )[0]
            same = bool(
                target._tuples(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = ? AND backend_start = ?"
                    " AND datname = current_database()",
                    [pid, started],
                )
            )
    if same:
        raise TransferError(f"{target.where} is the ledger copied: give another target")


def _refuse_filled(target: Store, tables: dict[str, tuple[str, ...]]) -> None:
    with _naming():
        filled = [t for t in tables if target._tuples(f"SELECT 1 FROM {t} LIMIT 1")]
    if filled:
        raise TransferError(
            f"{target.where} is not empty (it holds {', '.join(filled)}): a ledger is copied"
            " only into an empty one, never merged into one in use"
        )


@contextmanager
def _snapshot(source: Store) -> Iterator[None]:
    """The source as it is at one moment, which no noticebot changes meanwhile: read in
    its writer's transaction (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's writer lock), at
    repeatable read on PostgreSQL, where each statement would otherwise see the rows as
    they are when it runs."""
    postgres = source.backend.kind == "postgresql"
    if postgres:
        source._exec("SET default_transaction_isolation = 'repeatable read'")
    try:
        with source.transaction():
            yield
    finally:
        if postgres and not source.backend.in_transaction:
            with contextlib.suppress(*_errors()):  # not to hide why the copy stopped
                source._exec("RESET default_transaction_isolation")


@contextmanager
def _naming(table: str | None = None) -> Iterator[None]:
    """A database's refusal (a value one engine keeps and the other does not, a server
    gone) in one line, with the table it was in."""
    try:
        yield
    except _errors() as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TransferError(f"{table}: {reason}" if table else reason) from None


@functools.cache
def _errors() -> tuple[type[Exception], ...]:
    import psycopg

    return (sqlite3.Error, psycopg.Error)
