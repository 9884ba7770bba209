"""Attacks on the PostgreSQL recorder, each a test that failed before its fix: records
made at once opened a connection each, a record waiting for a row landed after a
takeover, and a stop cancelled a record already on its way."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psycopg

from bot.ledger import Chat, Store
from bot.ledger.copies import Part
from bot.sending.policy import SendPolicy
from tests import ledgers
from tests.botenv import running_bot
from tests.emulator import Emulator

PIDS = """
CREATE TABLE recorders (pid BIGINT);
CREATE FUNCTION log_recorder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO recorders VALUES (pg_backend_pid());
  PERFORM pg_sleep(0.05);
  RETURN NEW;
END $$;
CREATE TRIGGER log_recorder BEFORE UPDATE ON deliveries
  FOR EACH ROW WHEN (NEW.copy IS DISTINCT FROM OLD.copy) EXECUTE FUNCTION log_recorder();
"""


def _part(store: Store, chat: int, message_id: int) -> Part:
    return Part(0, chat, (message_id,), "sendMessage", "h", store.clock())


async def test_records_made_at_once_go_on_one_recorder_connection(tmp_path: Path) -> None:
    """Eight sends answered at once (NOTICEBOT_MAX_IN_FLIGHT 8) each find no recorder
    connection yet (``_recorder_here`` awaits the connect before it stores it) and each
    open one of their own: eight server sessions for one recorder, seven of them
    dropped unclosed (Store.close() finishes only the last one stored; the others are
    left to the garbage collector), and a burst at 32 in flight is 32 sessions against
    the server's max_connections. One recorder connection should be opened and shared."""
    url = ledgers.postgres_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PIDS)
    store = Store(url)
    try:
        chats = list(range(101, 109))
        for chat in chats:
            store.subscribe(Chat(chat))
        store.enqueue("a", chats)
        works = store.claim_work(store.clock(), 10)
        await asyncio.gather(
            *(
                store.record_copy(w.delivery.id, (_part(store, w.delivery.chat_id, 7),))
                for w in works
            )
        )
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT COUNT(DISTINCT pid), COUNT(*) FROM recorders").fetchone()
    assert row == (1, 8)


async def test_a_record_waiting_on_a_row_lock_writes_nothing_after_a_takeover(
    tmp_path: Path,
) -> None:
    """The active process's record waits for a row another transaction holds (a
    command's withdrawal, say); meanwhile its heartbeat goes stale and a standby takes
    over, ending the stale holder's sessions: the lease's and the ledger's, but not
    the recorder's, which the lease does not know of. When the row is free the waiting
    record goes through: its fence (the lease's generation) was read before the
    takeover, so it overwrites the row the new active process now owns. The takeover
    should end the recorder's session too (as it ended the ledger connection, where
    records went before), or the record be fenced when it is applied."""
    url = ledgers.postgres_database()
    old = Store(url)
    new = Store(url)
    holder = psycopg.connect(url, autocommit=True)
    try:
        old.owner.take()
        old.subscribe(Chat(101))
        old.enqueue("a", [101])
        (work,) = old.claim_work(old.clock(), 10)
        first = _part(old, 101, 7)
        await old.record_copy(work.delivery.id, (first,))  # the recorder is open

        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM deliveries WHERE id = %s FOR UPDATE", [work.delivery.id])
        late = asyncio.create_task(old.record_copy(work.delivery.id, (first.but(ids=(8,)),)))
        with psycopg.connect(url, autocommit=True) as look:
            for _ in range(200):
                await asyncio.sleep(0.02)
                waiting = look.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
            look.execute("UPDATE lease SET heartbeat_at = heartbeat_at - 100")  # it froze
        assert not new.owner.try_take()  # ends the stale holder's sessions
        with contextlib.suppress(psycopg.OperationalError):
            old.backend.conn.execute("SELECT 1")
        assert old.backend.conn.broken  # its ledger connection was ended
        for _ in range(100):
            if new.owner.try_take():
                break
            await asyncio.sleep(0.05)
        assert new.owner.generation is not None
        holder.execute("COMMIT")
        with contextlib.suppress(psycopg.Error):  # refused: nothing written, as it should be
            await asyncio.wait_for(late, 10)
        (row,) = new.deliveries(101)
        assert row.copy == (first,)
    finally:
        holder.close()
        new.close()
        with contextlib.suppress(Exception):
            old.close()


SLOW_RECORDS = """
CREATE FUNCTION slow_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(3);
  RETURN NEW;
END $$;
CREATE TRIGGER slow_record BEFORE UPDATE ON deliveries
  FOR EACH ROW WHEN (NEW.copy IS DISTINCT FROM OLD.copy) EXECUTE FUNCTION slow_record();
"""


async def test_a_stop_does_not_cancel_the_record_of_a_message_telegram_confirmed(
    tmp_path: Path,
) -> None:
    """A stop drains the workers, then cancels those still busy (Dispatcher._drain).
    Before this change a send's record was written at once, once Telegram answered,
    so a worker cut off there could not lose it; now a worker cancelled while its
    record is on the recorder's connection has psycopg cancel the statement on the
    server: the card Telegram confirmed is not in the ledger, and the next start sends
    it again (a duplicate). A record already on its way should be let finish
    (shielded from the cancellation), as the synchronous write was."""
    url = ledgers.postgres_database()
    with Emulator(limits=None) as emulator:
        async with running_bot(
            tmp_path, emulator, SendPolicy(max_in_flight=1), rate_limits=False, db=url
        ) as env:
            env.scan()
            env.subscribe(101)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SLOW_RECORDS)
            env.write_article("n.md")
            env.scan()
            dispatcher = env.runtime.dispatcher
            sending = asyncio.create_task(dispatcher.run_until_idle())
            for _ in range(300):
                await asyncio.sleep(0.01)
                if any(c.method == "sendMessage" and c.ok for c in emulator.calls):
                    break
            await asyncio.sleep(0.2)  # the card's record is on the server now
            await dispatcher._drain(grace=0.1)
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            sent = [c for c in emulator.calls if c.method == "sendMessage" and c.ok]
            for _ in range(50):  # the server's 3 s, had it been let finish
                (row,) = env.runtime.store.deliveries(101)
                if row.copy:
                    break
                await asyncio.sleep(0.1)
            assert len(sent) == 1
            assert [p.ids for p in row.copy] == [tuple(sent[0].message_ids)]
