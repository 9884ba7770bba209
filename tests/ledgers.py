"""Where a test's ledger lives: a SQLite file, or a fresh database on a throwaway
PostgreSQL server (one a test process, started on first use).

A test module that runs on both backends says ``pytestmark = each_backend``; its tests
take the ``ledger_at`` fixture (a path or a URL, for ``Store``), and the bots
``tests.botenv.bot_config`` makes in them keep their ledger there too. Without a
PostgreSQL server the PostgreSQL half skips, saying why; under CI it fails instead:
CI installs one, and a skipped half would hide a broken backend.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.ledger import Store
from tests.pgcluster import PgCluster, unavailable

BACKENDS = ("sqlite", "postgresql")
each_backend = pytest.mark.usefixtures("ledger_at")
# A test, in a module on both backends, of what only SQLite does (its file lock, its
# file): its PostgreSQL half is not collected.
sqlite_only = pytest.mark.sqlite_only

_cluster: PgCluster | None = None
_where: Path | str | None = None  # the ledger of the test running now
_made: list[str] = []  # the databases the running test made
_example: str | None = None  # of those, the one fresh() made for a Hypothesis example
TEMPLATE = "ledger_template"


def postgres_database() -> str:
    """A new database on this process's server, with the ledger's schema made (a copy of
    a template made once); dropped when the test ends (:func:`drop_made`)."""
    global _cluster
    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the PostgreSQL ledger: {reason}")
        pytest.skip(f"no PostgreSQL server here: {reason}")
    if _cluster is None:
        _cluster = PgCluster(in_memory=True)
        Store(_cluster.new_database(TEMPLATE)).close()
    url = _cluster.new_database(template=TEMPLATE)
    _made.append(url)
    return url


def drop_made() -> None:
    """Drop the databases the test made: hundreds of 7 MB copies would fill memory."""
    global _example
    _example = None
    while _made:
        url = _made.pop()
        if _cluster is not None:
            _cluster.drop_database(url)


def ledger_for(backend: str, tmp_path: Path) -> Path | str:
    return tmp_path / "state" / "noticebot.db" if backend == "sqlite" else postgres_database()


def current(tmp_path: Path) -> Path | str:
    """The running test's ledger: its backend's, or a SQLite file if it runs on one."""
    return _where if _where is not None else tmp_path / "state" / "noticebot.db"


def set_current(where: Path | str | None) -> None:
    global _where
    _where = where


class Raw:
    """A second connection to a store's database, beside the bot's: a test's hand on
    the ledger (a table taken away for a moment, a value a bug would write)."""

    def __init__(self, store: Store) -> None:
        if store.backend.kind == "sqlite":
            self._conn: Any = sqlite3.connect(store.path, isolation_level=None)
        else:
            self._conn = psycopg.connect(store.backend.url, autocommit=True)

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(sql)
        return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self._conn.close()


# What a statement on a table that is not there raises, on either backend.
DatabaseError = (sqlite3.Error, psycopg.Error)


def fresh(folder: Path) -> Path | str:
    """A new, empty ledger on the running test's backend (one a Hypothesis example); the
    previous example's database is dropped first."""
    global _example
    if not isinstance(_where, str):
        return folder / "ledger.db"
    if _example is not None and _cluster is not None:
        _made.remove(_example)
        _cluster.drop_database(_example)
    _example = postgres_database()
    return _example


def server() -> str | None:
    """The running test's PostgreSQL ledger, if it runs on one."""
    return _where if isinstance(_where, str) else None
