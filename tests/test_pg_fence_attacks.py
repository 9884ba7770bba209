"""Attacks on the lease's fence on PostgreSQL (the row ``lease`` locked FOR KEY SHARE by
every transaction, claim and record, and FOR UPDATE by a takeover)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from bot.ledger import Store
from tests import ledgers
from tests.paths import ROOT

HANG = 20.0  # seconds: a hang guard, not a performance bound


def _within(call: Callable[[], Any], bound: float = HANG) -> tuple[bool, Any]:
    """Run ``call`` in a daemon thread: (finished within ``bound``, its result or error)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as error:
            box["value"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    return not thread.is_alive(), box.get("value")


@contextlib.contextmanager
def _held_transaction(url: str) -> Iterator[Store]:
    """A command-line process's transaction, begun and never ended (the process stopped
    with Ctrl-Z / SIGSTOP half-way through a write): a Store without a lease, as
    ``noticebot withdraw`` or ``broadcast`` has, inside ``Store.transaction()``."""
    store = Store(url)
    inside = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with store.transaction():
            inside.set()
            done.wait(120)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert inside.wait(10)
    try:
        yield store
    finally:
        done.set()
        thread.join(10)
        store.close()


def _take_until(store: Store, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if store.owner.try_take():
            return True
        time.sleep(1)
    return False


def _kill_sessions(url: str, *pids: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_command_stopped_mid_transaction_does_not_stop_a_takeover_for_ever() -> None:
    """The active bot dies while a command-line process (``noticebot withdraw``, stopped
    with Ctrl-Z half-way) is in a transaction: that transaction holds the lease's row
    FOR KEY SHARE (PostgresBackend.begin) until it ends, which is never. The standby's
    takeover locks the row FOR UPDATE on the lease's connection, with no lock_timeout:
    it waits for ever, holding the advisory lock, so no other standby takes over either
    (they see the lock held and end the dead holder's sessions again and again). The
    bot never sends again. A takeover should happen within seconds (the generation's
    update, a no-key update, does not conflict with FOR KEY SHARE; or a bounded wait)."""
    url = ledgers.postgres_database()
    old, new = Store(url), Store(url)
    try:
        assert old.owner.try_take()
        old.owner.beat()
        with _held_transaction(url):
            pids = [old.owner.holding().generation]  # the old holder's sessions die
            row = old.owner._one("SELECT backend_pid, ledger_pid FROM lease WHERE name='active'")
            assert row is not None and pids
            _kill_sessions(url, *row)
            finished, value = _within(lambda: _take_until(new, 15))
            assert finished, "the standby's takeover hung behind a command's transaction"
            assert value is True, f"the standby did not take over: {value!r}"
    finally:
        with contextlib.suppress(Exception):
            old.close()
        with contextlib.suppress(Exception):
            new.close()


def test_the_first_bot_starts_beside_a_command_stopped_mid_transaction() -> None:
    """No bot runs yet; a command (``noticebot broadcast`` recording its queue) is
    stopped with Ctrl-Z in its transaction. ``noticebot run`` on the same ledger then
    never becomes active: its try_take waits for ever on the lease row's FOR UPDATE
    (no lock_timeout on the lease's connection), blocking the event loop it is called
    from (become_active calls it synchronously). It should become active (or fail and
    try again) within seconds."""
    url = ledgers.postgres_database()
    bot = Store(url)
    try:
        with _held_transaction(url):
            finished, value = _within(bot.owner.try_take)
            assert finished, f"try_take hung behind a command's transaction: {_waiting(url)}"
            assert value is True, value
    finally:
        with contextlib.suppress(Exception):
            bot.close()


def test_a_process_in_its_own_transaction_can_take_the_lease() -> None:
    """try_take while this process's own ledger connection is in a transaction (which
    holds the lease's row FOR KEY SHARE since PostgresBackend.begin): the lease's
    connection waits FOR UPDATE for the ledger's connection of the same process, which
    waits for try_take to return. The server sees two sessions, not a deadlock; the
    process hangs for ever. It should take the lease (or refuse) at once. (Latent: no
    caller found today calls try_take inside a transaction; Store.transaction() invites
    it, and nothing stops a future one.)"""
    url = ledgers.postgres_database()
    store = Store(url)
    try:

        def inside() -> bool:
            with store.transaction():
                return store.owner.try_take()

        finished, value = _within(inside)
        assert finished, f"try_take hung on its own process's transaction: {_waiting(url)}"
        assert value is True, value
    finally:
        with contextlib.suppress(Exception):
            store.backend.conn.cancel()
        with contextlib.suppress(Exception):
            _kill_sessions(url, *_sessions(url))


def _waiting(url: str) -> list[tuple[Any, ...]]:
    """The statements waiting for a lock now, and for what."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()


def _sessions(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def test_status_answers_beside_a_command_stopped_mid_transaction(tmp_path: Path) -> None:
    """``noticebot status`` only reads; a command stopped with Ctrl-Z in a transaction
    should not stop it answering. Opening the ledger (Store -> migrate) takes the
    writer's advisory lock with no lock_timeout, so status waits for ever (so does every
    command, and ``noticebot run``: a supervisor's restart of a standby hangs at open).
    Older than the fence (migrate since the PostgreSQL ledger came); the writer's lock
    should be waited for as begin() waits (5 s, then an error), or skipped when the
    schema is already current."""
    url = ledgers.postgres_database()
    with _held_transaction(url):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTICEBOT_", "TELEGRAM"))}
        env.update(PYTHONPATH=str(ROOT), NOTICEBOT_DB=url, TELEGRAM_BOT_TOKEN="1:x")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bot", "status"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=HANG,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError("noticebot status hung behind a command's transaction") from None
        assert done.returncode in (0, 1), done.stderr
