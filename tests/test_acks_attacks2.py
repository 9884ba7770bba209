"""Second round of attacks on confirmations (✅ 收到): failures between steps, two
actors at once. Each test shows one bug and fails on the code it was written against."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.ledger import FAILED, QUEUED, SENT, Chat, Store
from bot.ledger.copies import Part
from bot.sending.reconciler import Reconciler
from tests import ledgers
from tests.botenv import Clock

pytestmark = ledgers.each_backend


def _ledger(tmp_path: Path) -> Store:
    store = Store(ledgers.current(tmp_path), Clock(1_700_000_000.0))
    store.save_article(
        {
            "id": "n1",
            "title": "停水通知",
            "date": store.clock(),
            "status": "active",
            "content_hash": "v1",
            "categories": "[]",
            "tags": "[]",
        }
    )
    store.save_version("n1", "v1", "{}")
    return store


def _settled(store: Store, chat_id: int, article_id: str) -> int:
    (delivery,) = [d for d in store.deliveries(chat_id) if d.article_id == article_id]
    store.claim([delivery.id])
    version = store.article(article_id)["content_hash"]
    card = Part(0, chat_id, (7,), "sendMessage", "h", store.clock())
    asyncio.run(store.settle(delivery.id, SENT, version, copy=(card,)))
    return delivery.id


def _status(store: Store, delivery_id: int) -> str:
    (d,) = [d for d in store.deliveries() if d.id == delivery_id]
    return d.status


def test_a_count_edit_that_failed_is_tried_again_at_the_next_press(tmp_path: Path) -> None:
    """Bug: queue_ack_counts (bot/ledger/acks.py ~173) requeues only rows in 'sent'.
    A count edit that fails for good (5xx past the retry window, a 400 the reconciler
    does not know) finishes the row 'failed' while its card is still in the group; no
    later press ever requeues it (retarget, retract and queue_unpins do take 'failed'
    rows with a copy), so the card shows a stale count for the rest of the round."""
    store = _ledger(tmp_path)
    store.ask_to_confirm("n1")
    store.subscribe(Chat(-500, type="group", title="5号楼"))
    store.enqueue("n1", [-500])
    delivery = _settled(store, -500, "n1")
    store.note_acks_shown(delivery, 0)
    store.record_ack("n1", -500, 7, "王", "v1")
    assert store.queue_ack_counts() == 1
    store.claim([delivery])
    store.finish(delivery, FAILED, "Telegram 502 Bad Gateway for an hour")  # the edit gave up
    store.clock.advance(7200)
    store.record_ack("n1", -500, 8, "李", "v1")
    store.record_ack("n1", -500, 9, "张", "v1")
    store.queue_ack_counts()
    assert _status(store, delivery) == QUEUED, "the card's count (0) is stuck: 3 confirmed"


def test_a_card_whose_last_edit_failed_gets_the_button_when_the_notice_asks(
    tmp_path: Path,
) -> None:
    """Bug: ask_to_confirm (bot/ledger/acks.py ~74) queues only 'sent' copies for the
    button, and queue_ack_counts skips rows that are not 'sent' even with acks_shown
    NO_BUTTON. A card whose previous correction edit failed for good ('failed', its
    messages still in the chat) never gets ✅ 收到: residents there cannot confirm."""
    store = _ledger(tmp_path)
    store.subscribe(Chat(42))
    store.enqueue("n1", [42])
    delivery = _settled(store, 42, "n1")
    store.retarget("n1", "v1", edit_sent=True)  # a correction, whose edit fails
    store.claim([delivery])
    store.finish(delivery, FAILED, "Telegram 500 for an hour")
    store.ask_to_confirm("n1")
    store.queue_ack_counts()
    assert _status(store, delivery) == QUEUED, "the card stays without the button"


def test_after_renew_whoever_confirmed_the_new_round_gets_no_old_reminder(
    tmp_path: Path,
) -> None:
    """Bug: renew_acks (bot/ledger/acks.py ~96) leaves the previous round's reminder
    rows queued (e.g. waiting for a chat's quiet hours to end), and the reconciler's
    _confirmed (bot/sending/reconciler.py ~160) checks the reminder's own round. A
    subscriber who confirms the new round right after the admin asks again still gets
    the old round's "请确认已阅读" the next morning, with a button that then answers
    'already confirmed'."""
    store = _ledger(tmp_path)
    store.subscribe(Chat(42))
    store.enqueue("n1", [42])
    store.ask_to_confirm("n1")
    _settled(store, 42, "n1")
    asking = store.asking("n1")
    assert asking is not None
    assert store.send_reminder(asking, {42: store.clock() + 8 * 3600}) == 1  # quiet hours
    assert store.renew_acks("n1") == 2
    store.record_ack("n1", 42, 42, "王", "v1")  # confirms the new round at once
    (reminder,) = [d for d in store.deliveries(42) if d.article_id == "n1#ack1"]
    work = store.work(reminder.id)
    assert work is not None and work.chat is not None
    reconciler = Reconciler(store, None, None, None)  # type: ignore[arg-type]
    goes = reminder.status == QUEUED and not reconciler._confirmed(work, work.chat)
    assert not goes, "the old round's reminder goes to someone who confirmed"
