"""The ledger's transitions that mutation testing (``make mutate``) found no test for,
on a real SQLite ledger: what a restart remembers of each chat's pace, which rows a
worker that could not record gives back, what a correction with edits off queues, and
when a failure is counted. The end-to-end tests reach these rows only through the bot,
where a wrong answer shows late or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ledger import ACTIVE, FAILED, QUEUED, SENDING, SENT, Chat, Store
from bot.ledger.copies import DROPPED, Part
from tests import ledgers
from tests.botenv import Clock

pytestmark = ledgers.each_backend

ARTICLE = "notice"


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    ledger = Store(ledgers.current(tmp_path), clock)
    ledger.save_article({"id": ARTICLE, "date": 900.0, "status": ACTIVE, "content_hash": "v1"})
    yield ledger
    ledger.close()


def _queued(store: Store, *chats: int) -> dict[int, int]:
    """A delivery of the notice to each chat: chat → delivery id."""
    for chat in chats:
        store.subscribe(Chat(chat))
    store.enqueue(ARTICLE, chats)
    return {d.chat_id: d.id for d in store.deliveries() if d.chat_id in chats}


def _statuses(store: Store) -> dict[int, str]:
    return {d.chat_id: d.status for d in store.deliveries()}


def _part(chat: int, at: float, *ids: int, slot: int = 0, state: str = "live") -> Part:
    kind = "sendMediaGroup" if len(ids) > 1 else "sendMessage"
    return Part(slot, chat, ids, kind, "hash", at, state=state)


def test_a_restart_remembers_each_chats_messages_since_a_moment(store: Store) -> None:
    """Per chat, when each call went out and how many messages it made (an album: one
    per picture): from the moment asked for on, whatever was dropped unsent left out,
    and a copy's part counted in the chat it went to (a group that moved on)."""
    rows = _queued(store, 1, 2, 3)
    asyncio.run(
        store.record_copy(rows[1], (_part(1, 1000.0, 11), _part(1, 1001.0, 12, 13, slot=1)))
    )
    asyncio.run(
        store.record_copy(rows[2], (_part(2, 999.0, 21), _part(2, 1000.0, slot=1, state=DROPPED)))
    )
    asyncio.run(store.record_copy(rows[3], (_part(-1003, 1002.0, 31),)))
    assert store.recent_sends(1000.0) == {1: [(1000.0, 1), (1001.0, 2)], -1003: [(1002.0, 1)]}


def test_a_row_recorded_before_the_moment_is_not_read(store: Store, clock: Clock) -> None:
    rows = _queued(store, 1)
    asyncio.run(store.record_copy(rows[1], (_part(1, 1000.0, 11),)))
    clock.advance(60)
    assert store.recent_sends(1001.0) == {}


def test_a_worker_gives_back_only_its_rows_and_only_while_sending(store: Store) -> None:
    rows = _queued(store, 1, 2, 3)
    assert sorted(store.claim(rows.values())) == sorted(rows.values())
    store.finish(rows[3], SENT)
    assert store.requeue_interrupted([rows[1], rows[3]]) == 1
    assert _statuses(store) == {1: QUEUED, 2: SENDING, 3: SENT}
    assert store.requeue_interrupted([]) == 0
    assert store.requeue_interrupted() == 1  # at start: every row a dead process held
    assert _statuses(store) == {1: QUEUED, 2: QUEUED, 3: SENT}


def test_a_correction_with_edits_off_queues_no_copy(store: Store) -> None:
    """The copies keep the version they started with; only what has shown nothing yet
    takes the new one. The number of copies queued is what the scan reports."""
    rows = _queued(store, 1, 2)
    store.claim([rows[1]])
    asyncio.run(store.record_copy(rows[1], (_part(1, 1000.0, 11),)))
    store.finish(rows[1], SENT)
    assert store.retarget(ARTICLE, "v2", edit_sent=False) == 0
    assert _statuses(store) == {1: SENT, 2: QUEUED}
    assert store.retarget(ARTICLE, "v2", edit_sent=True) == 1
    assert _statuses(store) == {1: QUEUED, 2: QUEUED}


def test_a_failure_is_counted_from_when_it_happened(store: Store, clock: Clock) -> None:
    rows = _queued(store, 1)
    store.claim([rows[1]])
    clock.advance(30)
    store.finish(rows[1], FAILED, "Forbidden: bot was blocked by the user")
    assert store.failures_since(1030.0) == 1
    assert store.failures_since(1030.5) == 0
    (failure,) = store.status()["last_failures"]
    assert failure["last_error"] == "Forbidden: bot was blocked by the user"


def test_the_ledger_lists_every_row_or_a_chats_and_finds_none_that_is_gone(store: Store) -> None:
    rows = _queued(store, 1, 2)
    assert sorted(d.chat_id for d in store.deliveries()) == [1, 2]
    assert [d.id for d in store.deliveries(2)] == [rows[2]]
    assert store.work(rows[1]) is not None
    assert store.work(max(rows.values()) + 1) is None


def test_a_correction_of_a_notice_without_a_date_keeps_each_rows_time(store: Store) -> None:
    """A ledger row with no date (none is written today, but a ledger may hold one):
    a correction leaves a row waiting to be retried due when it was, not never."""
    store.save_article({"id": "undated", "date": None, "status": ACTIVE, "content_hash": "v1"})
    store.subscribe(Chat(1))
    store.enqueue("undated", [1])
    (row,) = store.deliveries(1)
    store.claim([row.id])
    store.retry_later(row.id, 1060.0, "Bad Gateway")
    store.retarget("undated", "v2", edit_sent=True)
    assert store.due(1059.0, 10) == []
    assert store.due(1060.0, 10) == [row.id]
