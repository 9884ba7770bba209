"""What a send made, recorded on a PostgreSQL ledger: the record travels on a connection
of its own while the event loop sends to other chats, yet no send goes out before the
one before it is recorded (``NOTICEBOT_MAX_IN_FLIGHT``: each unrecorded send is a
message a crash could repeat), and a process whose lease moved on records nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg

from bot.ledger import SENT, Chat, Store
from bot.ledger.copies import Part
from bot.sending.policy import SendPolicy
from tests import ledgers
from tests.botenv import running_bot
from tests.emulator import Emulator

RECORD_TAKES = 0.3  # seconds the server spends on each record, in the first test

SLOW_RECORDS = f"""
CREATE FUNCTION slow_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep({RECORD_TAKES});
  RETURN NEW;
END $$;
CREATE TRIGGER slow_record BEFORE UPDATE ON deliveries
  FOR EACH ROW WHEN (NEW.copy IS DISTINCT FROM OLD.copy) EXECUTE FUNCTION slow_record();
"""


class Watching(Emulator):
    """At each message sent, how many the emulator answered before it that the ledger
    has not recorded yet."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)
        self.ledger = url
        self.unrecorded: list[int] = []

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
        if method == "sendMessage":
            with psycopg.connect(self.ledger, autocommit=True) as conn:
                row = conn.execute("SELECT COUNT(*) FROM deliveries WHERE copy != '[]'").fetchone()
            answered = sum(1 for c in self.calls if c.method == "sendMessage" and c.ok)
            self.unrecorded.append(answered - (row[0] if row else 0))
        return super().answer(method, params)


async def test_a_send_waits_until_the_one_before_it_is_recorded(tmp_path: Path) -> None:
    """One in flight: while the server takes its time over a record, the other chats'
    workers wait for the slot instead of sending."""
    url = ledgers.postgres_database()
    with Watching(url, limits=None) as emulator:
        async with running_bot(
            tmp_path, emulator, SendPolicy(max_in_flight=1), rate_limits=False, db=url
        ) as env:
            env.scan()
            env.subscribe(101, 102, 103, 104)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SLOW_RECORDS)
            env.write_article("n.md")
            env.scan()
            await env.send()
            assert [d.status for d in env.runtime.store.deliveries()] == [SENT] * 4
    assert emulator.unrecorded == [0, 0, 0, 0]


def test_a_process_whose_lease_moved_on_records_nothing(tmp_path: Path) -> None:
    """A frozen process, woken after a standby took over, may still hold a send's answer:
    its record must not overwrite what the new active process recorded."""
    url = ledgers.postgres_database()
    store = Store(url)
    try:
        store.owner.take()
        store.subscribe(Chat(101))
        store.enqueue("a", [101])
        (work,) = store.claim_work(store.clock(), 10)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE lease SET generation = generation + 1")  # taken over
        part = Part(0, 101, (7,), "sendMessage", "h", store.clock())
        asyncio.run(store.record_copy(work.delivery.id, (part,)))
        asyncio.run(store.settle(work.delivery.id, SENT, "v1", copy=(part,)))
        (row,) = store.deliveries(101)
        assert row.copy == () and row.status != SENT
    finally:
        store.close()


async def test_a_record_on_a_connection_the_server_dropped_goes_on_a_new_one(
    tmp_path: Path,
) -> None:
    """The recorder's connection was ended while idle (a server restart, an idle timeout,
    a pooler): the record is written on a new one, not lost to the delivery's retry
    (which would send the message again)."""
    url = ledgers.postgres_database()
    store = Store(url)
    try:
        store.subscribe(Chat(101))
        store.enqueue("a", [101])
        (work,) = store.claim_work(store.clock(), 10)
        first = Part(0, 101, (7,), "sendMessage", "h", store.clock())
        await store.record_copy(work.delivery.id, (first,))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                [store.backend.session_pid()],
            )
        second = first.but(ids=(8,))
        await store.record_copy(work.delivery.id, (second,))
        (row,) = store.deliveries(101)
        assert row.copy == (second,)
    finally:
        store.close()
