"""Which process sends, when the ledger is on a database server: a lease.

Several ``noticebot run`` processes, on different machines, share one PostgreSQL
ledger; exactly one is active (it polls or serves the webhook, scans, reads feeds and
sends), the others wait as standbys. The active one holds a session advisory lock on
its connection, which the server releases when the process dies or its connection is
cut, and beats a heartbeat into the ``lease`` row every second. A standby takes the
lock when it is free; when the heartbeat is stale but the lock still held (a frozen
process, a connection the server has not yet seen die), it ends the holder's session
on the server. That fences the old process: its connection is gone, so every
statement it makes fails, and every transaction and claim checks the lease's
generation, which the new holder raised. Times are the server's clock, so machines
whose clocks disagree still agree on what is stale.

The lease has a connection of its own, and the active process beats it from a thread
of its own: a ledger call that waits (another process's long transaction, a slow
statement) neither silences the heartbeat nor is taken for a frozen process; a
stopping bot beats until it has recorded its last sends and let the lease go. A
standby ending a stale holder ends both of its sessions, the lease's and the ledger's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.ledger.owner import LedgerBusy

log = logging.getLogger(__name__)

LEASE_LOCK = 0x6C656173  # "leas": held by the active process's session
STALE_AFTER = 5.0  # seconds without a heartbeat: the holder is frozen or cut off
BEAT_EVERY = 1.0  # seconds between heartbeats, and between a standby's looks
SEND_MARGIN = 2.0  # seconds: no send once the last beat is this near to a standby's limit
TAKE_WAIT = 2  # seconds a takeover waits for the old holder's last writes, then looks again
NOW = "extract(epoch from clock_timestamp())"  # the server's time, for every process

TABLES = """
CREATE TABLE lease (name TEXT PRIMARY KEY, holder TEXT, generation BIGINT NOT NULL DEFAULT 0,
  since FLOAT8, heartbeat_at FLOAT8, backend_pid BIGINT, ledger_pid BIGINT);
INSERT INTO lease (name) VALUES ('active');
CREATE TABLE processes (id TEXT PRIMARY KEY, host TEXT, pid BIGINT, started_at FLOAT8,
  seen_at FLOAT8);
CREATE TABLE failovers (generation BIGINT PRIMARY KEY, at FLOAT8, holder TEXT,
  previous TEXT, silent FLOAT8);
"""


class Fenced(RuntimeError):
    """This process lost the lease (another took over): it must send nothing more."""


@dataclass(frozen=True)
class Holding:
    """The lease as the ledger records it."""

    holder: str | None
    generation: int
    since: float | None
    heartbeat_age: float | None  # seconds since the holder's last heartbeat


class Lease:
    """This process's side of the lease: standby until :meth:`try_take` succeeds."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.me = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:6]}"
        self.generation: int | None = None  # set while this process is the active one
        self.took_over_from: str | None = None
        self._conn: Any = None  # the lease's own connection, opened when first needed
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None
        self.last_beat = 0.0  # monotonic: it runs on while the process is stopped

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            from bot.ledger.postgres import connect

            self._conn = connect(self.backend.url)
        return self._conn

    def _forget_connection(self) -> None:
        """After an error: the next call opens a new one (the server restarted, a
        network cut healed); a standby lives on, and looks again."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        with self._lock:
            return self._connection().execute(sql, params).fetchone()

    def _do(self, sql: str, params: list[Any] | None = None) -> int:
        with self._lock:
            return self._connection().execute(sql, params).rowcount

    def _all(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._connection().execute(sql, params)
            names = [d.name for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def seen(self) -> None:
        """This process is alive (standby or active), for ``noticebot status``."""
        self._do(
            f"INSERT INTO processes (id, host, pid, started_at, seen_at)"
            f" VALUES (%s, %s, %s, {NOW}, {NOW})"
            f" ON CONFLICT (id) DO UPDATE SET seen_at = {NOW}",
            [self.me, socket.gethostname(), os.getpid()],
        )

    def holding(self) -> Holding:
        row = self._one(
            f"SELECT holder, generation, since, {NOW} - heartbeat_at FROM lease"
            " WHERE name = 'active'"
        )
        return Holding(*row) if row else Holding(None, 0, None, None)

    def try_take(self) -> bool:
        """Become the active process if the lease is free; end a stale holder's sessions
        so that a later try finds it free. True once this process is active."""
        if self.generation is not None:
            return True
        with self._lock:
            try:
                return self._try_take()
            except Exception:
                self._forget_connection()
                raise

    def _try_take(self) -> bool:
        self.seen()
        got = self._one("SELECT pg_try_advisory_lock(%s)", [LEASE_LOCK])
        if not got or not got[0]:
            row = self._one(
                f"SELECT backend_pid, ledger_pid, {NOW} - heartbeat_at FROM lease"
                " WHERE name = 'active'"
            )
            if row and row[2] is not None and row[2] > STALE_AFTER:
                for pid in row[:2]:
                    if pid is not None:
                        self._one("SELECT pg_terminate_backend(%s)", [pid])
            return False
        from psycopg.errors import LockNotAvailable

        ledger_pid = self.backend.session_pid()  # a ledger connection that works, first
        try:
            with self._connection().transaction():
                self._do(f"SET LOCAL lock_timeout = '{TAKE_WAIT}s'")
                self._one("SELECT 1 FROM lease WHERE name = 'active' FOR UPDATE")  # fence_sql
                generation = self._bump(ledger_pid)
        except LockNotAvailable:  # the old holder's last writes still running: next look
            self._one("SELECT pg_advisory_unlock(%s)", [LEASE_LOCK])
            return False
        self.generation = generation
        self.last_beat = time.monotonic()
        return True

    def _bump(self, ledger_pid: int) -> int:
        """The lease made this process's, in the takeover's transaction; a failover
        recorded if another process held it. The new generation."""
        before = self.holding()
        (generation,) = self._one(
            f"UPDATE lease SET generation = generation + 1, holder = %s, since = {NOW},"
            f" heartbeat_at = {NOW}, backend_pid = pg_backend_pid(), ledger_pid = %s"
            " WHERE name = 'active' RETURNING generation",
            [self.me, ledger_pid],
        ) or (0,)
        if before.holder is not None and before.heartbeat_age is not None:
            self._do(
                f"INSERT INTO failovers (generation, at, holder, previous, silent)"
                f" VALUES (%s, {NOW}, %s, %s, %s)",
                [generation, self.me, before.holder, before.heartbeat_age],
            )
            self.took_over_from = before.holder
        return int(generation)

    def keep(self, lost: Callable[[str], None]) -> None:
        """Beat the lease every second from a thread of its own until :meth:`release`;
        ``lost`` is called (from that thread) when another process took over, or when
        no heartbeat went through for as long as a standby waits before taking over."""
        self._stop.clear()
        self._beating = threading.Thread(
            target=self._beat_until_released, args=(lost,), name="lease", daemon=True
        )
        self._beating.start()

    def _beat_until_released(self, lost: Callable[[str], None]) -> None:
        last = time.monotonic()
        while not self._stop.wait(BEAT_EVERY):
            try:
                self.beat()
                last = time.monotonic()
            except Fenced as error:
                lost(str(error))
                return
            except Exception as error:
                if time.monotonic() - last > STALE_AFTER:  # a standby may take over now
                    lost(f"no heartbeat for {STALE_AFTER:.0f} s ({error!r})")
                    return
                log.warning("heartbeat failed (%r); trying again", error)
                self._forget_connection()

    def take(self) -> None:
        """Active now, or :class:`LedgerBusy` (for commands that send from here)."""
        if not self.try_take():
            holding = self.holding()
            raise LedgerBusy(
                f"another noticebot ({holding.holder}) is active on {self.backend.where};"
                " stop it first (two would send every notice twice)"
            )

    def beat(self) -> None:
        """The active process's heartbeat; :class:`Fenced` if another took over."""
        if self.generation is None:
            return
        changed = self._do(
            f"UPDATE lease SET heartbeat_at = {NOW} WHERE name = 'active' AND generation = %s",
            [self.generation],
        )
        if not changed:
            raise Fenced(f"the lease moved on past generation {self.generation}")
        self.last_beat = time.monotonic()
        self.seen()

    def fresh(self) -> bool:
        """Whether this process may send now: it holds the lease and beat it lately. A
        process woken from a freeze finds its last beat old (the monotonic clock ran on)
        and sends nothing until its heartbeat has said whether the lease is still its."""
        return (
            self.generation is not None
            and time.monotonic() - self.last_beat < STALE_AFTER - SEND_MARGIN
        )

    def check(self, generation: int | None) -> None:
        """In every transaction of the active process (``generation``: the lease's, read
        by the transaction itself): the lease is still ours."""
        if self.generation is not None and generation != self.generation:
            raise Fenced(f"the lease moved on past generation {self.generation}")

    def fence_sql(self) -> str:
        """A condition for a claim or a record: it holds only while the lease is ours.

        It locks the lease's row (``FOR KEY SHARE``, which the heartbeat's update does
        not wait for) until the write commits, and a takeover locks the row ``FOR
        UPDATE`` first: a write that began before a takeover ends before it, and one
        that waited meanwhile (for a row another transaction held) reads the new
        generation and changes nothing. The generation is written into the statement
        (a whole number, the same for as long as this process holds the lease), so
        the statement stays prepared."""
        if self.generation is None:
            return ""
        return (
            " AND EXISTS (SELECT 1 FROM lease WHERE name = 'active'"
            f" AND generation = {int(self.generation)} FOR KEY SHARE)"
        )

    def held_elsewhere(self) -> bool:
        """Whether another process is active now (its heartbeat is fresh)."""
        holding = self.holding()
        return (
            self.generation is None
            and holding.holder is not None
            and holding.heartbeat_age is not None
            and holding.heartbeat_age <= STALE_AFTER
        )

    def release(self) -> None:
        """A clean stop hands the lease on at once: a standby need not wait it out."""
        self._stop.set()
        if self._beating is not None and self._beating is not threading.current_thread():
            self._beating.join(timeout=BEAT_EVERY * 2)
        with self._lock:
            try:
                if self.generation is not None:
                    self._do(
                        "UPDATE lease SET heartbeat_at = NULL, backend_pid = NULL,"
                        " ledger_pid = NULL WHERE name = 'active' AND generation = %s",
                        [self.generation],
                    )
                if self._conn is not None:
                    self._do("DELETE FROM processes WHERE id = %s", [self.me])
            except Exception:
                pass  # a dead connection: the server released everything already
            self._forget_connection()  # the advisory lock goes with the session
            self.generation = None

    def processes(self) -> list[dict[str, Any]]:
        """Every process seen in the last minute, and which is active: for status."""
        return self._all(
            f"SELECT p.id, p.host, p.pid, p.started_at, {NOW} - p.seen_at AS seen_ago,"
            " p.id = l.holder AND l.heartbeat_at IS NOT NULL AS active"
            f" FROM processes p, lease l WHERE l.name = 'active' AND p.seen_at > {NOW} - 60"
            " ORDER BY p.started_at"
        )

    def failovers(self, limit: int = 5) -> list[dict[str, Any]]:
        return self._all(
            "SELECT generation, at, holder, previous, silent FROM failovers"
            " ORDER BY generation DESC LIMIT %s",
            [limit],
        )
