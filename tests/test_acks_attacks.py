"""Attacks on confirmations (✅ 收到): each test shows one bug or broken promise and
fails on the code it was written against."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot.config import Config
from bot.ledger import QUEUED, SENT, Chat, Store
from bot.ledger.copies import Part
from bot.reading.richtext import utf16_len
from bot.sources.scanner import Scanner
from tests import ledgers
from tests.botenv import ADMIN, Clock, live_bot, message_update, until
from tests.chaos import article_text
from tests.emulator import Emulator

pytestmark = ledgers.each_backend


def _ledger(tmp_path: Path, title: str) -> Store:
    """A ledger holding one published notice, n1, in its first version."""
    store = Store(ledgers.current(tmp_path), Clock(1_700_000_000.0))
    store.save_article(
        {
            "id": "n1",
            "title": title,
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
    """The chat's row of the notice settled as sent, with its card."""
    (delivery,) = [d for d in store.deliveries(chat_id) if d.article_id == article_id]
    store.claim([delivery.id])
    version = store.article(article_id)["content_hash"]
    card = Part(0, chat_id, (7,), "sendMessage", "h", store.clock())
    asyncio.run(store.settle(delivery.id, SENT, version, copy=(card,)))
    return delivery.id


def _the_notice(store: Store, title: str) -> str:
    (row,) = [r for r in store.recent_articles(10, scheduled=True) if r["title"] == title]
    return row["id"]


# --- ledger ------------------------------------------------------------------------------


def test_a_group_upgraded_to_a_supergroup_keeps_its_confirmations(tmp_path: Path) -> None:
    """Bug: Chats.migrate_chat moves the chat and its deliveries (with acks_shown) to the
    supergroup's id but leaves the acks rows at the old id. The supergroup's count
    drops to 0 (ack_count, /acks per chat, the reminder's group line), the old group's
    confirmations vanish from ack_chats (its chats row is gone), and queue_ack_counts
    requeues the moved card (acks_shown 2 ≠ 0) to show 0, for a copy whose messages
    stay in the old group, where Telegram refuses every edit."""
    store = _ledger(tmp_path, "停水通知")
    store.ask_to_confirm("n1")
    old, new = -500, -1_000_000_000_500
    store.subscribe(Chat(old, type="group", title="5号楼"))
    store.enqueue("n1", [old])
    delivery = _settled(store, old, "n1")
    store.record_ack("n1", old, 7, "王", "v1")
    store.record_ack("n1", old, 8, "李", "v1")
    store.note_acks_shown(delivery, 2)
    assert store.queue_ack_counts() == 0  # the card shows the group's count

    assert store.migrate_chat(old, new)
    assert store.ack_count("n1", new) == 2, "the group's confirmations stayed at the old id"
    assert [c["confirmed"] for c in store.ack_chats("n1")] == [2]
    assert store.queue_ack_counts() == 0, "the moved card is queued for a count of 0"


# --- the scanner -------------------------------------------------------------------------


def _folder(tmp_path: Path) -> tuple[Path, Store]:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "archive.md").write_text(article_text("旧通知"), encoding="utf-8")
    return folder, Store(ledgers.current(tmp_path), Clock())


def test_a_notice_whose_file_is_deleted_takes_its_queued_reminder_with_it(
    tmp_path: Path,
) -> None:
    """Bug: Scanner._withdraw (bot/sources/scanner.py ~626: a file deleted, or a notice
    displaced) retracts the notice's copies but never calls withdraw_reminders, as the
    draft path of _save does. A reminder queued for after a subscriber's quiet hours
    still goes out ("请确认已阅读：…" with a button that then answers 'withdrawn'), and
    the reminder's pseudo-article stays sendable."""
    folder, store = _folder(tmp_path)
    store.subscribe(Chat(42))
    scanner = Scanner(store, Config(articles=(folder,)))
    scanner.scan()  # the archive's baseline
    (folder / "a.md").write_text(article_text("停水通知", extra="ack: true\n"), encoding="utf-8")
    scanner.scan()
    article_id = _the_notice(store, "停水通知")
    _settled(store, 42, article_id)
    asking = store.asking(article_id)
    assert asking is not None
    # the reminder's time came during chat 42's quiet hours: queued for their end
    assert store.send_reminder(asking, {42: store.clock() + 3600}) == 1

    (folder / "a.md").unlink()
    scanner.scan(withdraw=True)
    assert store.article(article_id)["status"] == "withdrawn"
    reminders = [d for d in store.deliveries(42) if d.article_id != article_id]
    assert reminders, "the reminder's row"
    assert [d.status for d in reminders] != [QUEUED], "the reminder of a deleted notice will go"


def test_a_correction_does_not_postpone_the_reminder(tmp_path: Path) -> None:
    """Broken promise (README: reminded NOTICEBOT_ACK_REMIND "after it went out"):
    Scanner._ask_to_confirm runs on every save of the file and computes the reminder
    from max(date, now), and Acks.ask_to_confirm replaces remind_at while the round's
    reminder has not gone out. So each correction (a typo fixed) pushes the reminder
    NOTICEBOT_ACK_REMIND further; a notice corrected more often than that never
    reminds anyone."""
    folder, store = _folder(tmp_path)
    store.subscribe(Chat(42))
    scanner = Scanner(store, Config(articles=(folder,), ack_remind=3600.0))
    scanner.scan()
    path = folder / "a.md"
    path.write_text(article_text("停水通知", extra="ack: true\n"), encoding="utf-8")
    scanner.scan()
    article_id = _the_notice(store, "停水通知")
    first = store.asking(article_id)
    assert first is not None and first.remind_at is not None
    store.clock.advance(3000)  # 50 minutes later, a typo is fixed
    text = path.read_text(encoding="utf-8").replace("储水", "蓄水")
    path.write_text(text, encoding="utf-8")
    assert scanner.scan().corrected == [article_id]
    later = store.asking(article_id)
    assert later is not None
    assert later.remind_at == first.remind_at, (
        f"the reminder moved {later.remind_at - first.remind_at:.0f} s later"
    )


def test_a_correction_after_renew_keeps_the_new_rounds_reminder(tmp_path: Path) -> None:
    """Bug: after /acks ID 重新确认 the round's reminder is armed again (now +
    remind_after), but the next correction of the file (without ack: renew) resets
    remind_at to the file's ack_by, long past: the new round's reminder goes out at
    once, minutes after the admin asked again, instead of remind_after later."""
    folder, store = _folder(tmp_path)
    store.subscribe(Chat(42))
    scanner = Scanner(store, Config(articles=(folder,)))
    scanner.scan()
    path = folder / "a.md"
    path.write_text(article_text("停水通知", extra="ack: true\nack_by: 2h\n"), encoding="utf-8")
    scanner.scan()
    article_id = _the_notice(store, "停水通知")
    store.clock.advance(3 * 86400)  # days later, an admin asks again
    assert store.renew_acks(article_id) == 2
    renewed = store.asking(article_id)
    assert renewed is not None and renewed.remind_at is not None
    assert renewed.remind_at > store.clock()  # armed again, some time from now
    store.clock.advance(60)
    path.write_text(path.read_text(encoding="utf-8").replace("储水", "蓄水"), encoding="utf-8")
    scanner.scan()
    after = store.asking(article_id)
    assert after is not None and after.round == 2
    assert store.reminders_due(store.clock()) == [], "round 2's reminder is due at once"


# --- in chat -----------------------------------------------------------------------------

GROUP = -1_001_000_000_901


async def test_a_card_read_into_a_group_the_notice_never_reached_has_no_button(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Was a bug: /read ID (or /read_ID, /start read_ID) sends the card through
    Sender.messages_for → Planner.plan_for, which adds ✅ 收到 to it. A group admin's
    /read in a group the notice never went to (not subscribed, or filtered out) posts
    a card with the button, and every member's press on it is refused as forged
    (ack_button: reached() is false: "这个按钮已失效。"). The bot calls its own button
    invalid; either the button should not be there or the press should count."""
    async with live_bot(tmp_path, emulator) as bot:
        store = bot.runtime.store
        await until(lambda: bot.runtime.scanned_at, "the first scan")
        (bot.articles / "a.md").write_text(
            article_text("停水通知", extra="ack: true\n"), encoding="utf-8"
        )
        await until(lambda: _titles(store), "the notice read")
        article_id = _the_notice(store, "停水通知")
        emulator.set_member(GROUP, ADMIN, "administrator")
        start = bot.mark()
        update = message_update(GROUP, f"/read {article_id}", user_id=ADMIN, chat_type="supergroup")
        await bot.say(update, since=start)
        cards = [
            (call.message_ids[0], call.params)
            for to, call in emulator.delivered()
            if to == GROUP and "停水通知" in str(call.params.get("text", ""))
        ]
        assert cards, "the card in the group"
        _, params = cards[0]
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard") or []
        data = [b.get("callback_data", "") for row in keyboard for b in row]
        assert f"ack:{article_id}" not in data, keyboard  # no button a press could not count
        start = bot.mark()
        emulator.push(message_update(ADMIN, f"/read {article_id}"))

        def in_private() -> list:  # the group's own parts may still be arriving
            return [c for c in bot.changed(start) if c.params.get("chat_id") == ADMIN]

        await until(in_private, "the card in private")
        card = in_private()[0]
        keyboard = card.params["reply_markup"]["inline_keyboard"]
        assert keyboard[0][0]["callback_data"] == f"ack:{article_id}"  # in private it counts


def _titles(store: Store) -> bool:
    return any(r["title"] == "停水通知" for r in store.recent_articles(10, scheduled=True))


def test_withdrawn_and_published_again_the_round_still_reminds_who_was_not(
    tmp_path: Path,
) -> None:
    """Broken promise (README: "one reminder per round … to each private subscriber who
    has not confirmed"): a notice withdrawn (draft: true) while its reminder waits for
    a subscriber's quiet hours takes the reminder with it (withdraw_reminders), but
    published again nothing brings it back: the reminder's article stays 'withdrawn'
    and reminded_round already equals the round, so reminders_due never picks the
    round again. The subscriber who never confirmed is never reminded."""
    folder, store = _folder(tmp_path)
    store.subscribe(Chat(42))
    scanner = Scanner(store, Config(articles=(folder,)))
    scanner.scan()
    path = folder / "a.md"
    text = article_text("停水通知", extra="ack: true\n")
    path.write_text(text, encoding="utf-8")
    scanner.scan()
    article_id = _the_notice(store, "停水通知")
    _settled(store, 42, article_id)
    asking = store.asking(article_id)
    assert asking is not None
    assert store.send_reminder(asking, {42: store.clock() + 3600}) == 1  # after quiet hours
    path.write_text(text.replace("ack: true\n", "ack: true\ndraft: true\n"), encoding="utf-8")
    scanner.scan()
    assert store.article(article_id)["status"] == "withdrawn"
    store.clock.advance(60)
    path.write_text(text.replace("储水", "蓄水"), encoding="utf-8")  # published again
    scanner.scan()
    assert store.article(article_id)["status"] == "active"
    store.clock.advance(3600)
    queued = [d for d in store.deliveries(42) if d.article_id != article_id and d.status == QUEUED]
    due = store.reminders_due(store.clock())
    assert queued or due, "chat 42, which never confirmed, will never be reminded this round"


def test_the_private_line_of_acks_counts_only_private_chats_reached(tmp_path: Path) -> None:
    """Bug: /acks ID's "私聊订阅：{confirmed}/{reached} 已确认" takes its denominator
    from len(private chats in ack_chats), and ack_chats also lists every chat someone
    confirmed in (any round), reached or not (a private press needs no delivery: the
    card from /read carries the button). Two subscribers reached, neither confirmed,
    one resident who reads it with /read confirms: the title says 已发送至 2 个聊天
    and the line says 1/3 — three "private subscribers", one of whom confirmed."""
    from zoneinfo import ZoneInfo

    from bot.chat.acks import detail

    store = _ledger(tmp_path, "停水通知")
    store.ask_to_confirm("n1")
    for chat in (42, 43):
        store.subscribe(Chat(chat))
        store.enqueue("n1", [chat])
        _settled(store, chat, "n1")
    store.subscribe(Chat(44))
    store.unsubscribe(44)  # a resident with a private chat, not subscribed: /read n1
    store.record_ack("n1", 44, 44, "张", "v1")
    text = detail(store, "n1", "zh", ZoneInfo("Asia/Shanghai"), names=False)
    assert "已发送至 2 个聊天" in text, text
    assert "/2 已确认" in text, text  # of the two private subscribers it reached


def test_acks_detail_goes_in_messages_telegram_takes(tmp_path: Path) -> None:
    """Bug: /acks ID (bot/chat/acks.py detail + send_text) is one sendMessage with a line
    per group reached and up to 40 names, never cut or split. A notice in 100 groups
    (the README's chaos scenario has 100 supergroups) with a resident confirming in
    each is well over Telegram's 4096 characters: MESSAGE_TOO_LONG, and the admin
    gets no answer at all (in a group too, without the names)."""
    from zoneinfo import ZoneInfo

    from bot.chat.acks import detail, in_messages

    store = _ledger(tmp_path, "关于小区二次供水设施清洗消毒期间临时停水的通知")
    store.ask_to_confirm("n1")
    for n in range(100):
        group = -1_001_000_100_000 - n
        store.subscribe(Chat(group, type="supergroup", title=f"幸福里小区{n + 1}号楼业主交流群"))
        store.enqueue("n1", [group])
        _settled(store, group, "n1")
        name = f"王小明{n} 🏠🏠🏠🏠🏠🏠🏠🏠🏠🏠 @resident_{n:04d}_wang"  # emoji: 2 UTF-16 units
        store.record_ack("n1", group, 50_000 + n, name, "v1")
    tz = ZoneInfo("Asia/Shanghai")
    for names in (True, False):
        text = detail(store, "n1", "zh", tz, names=names)
        parts = in_messages(text)
        assert len(parts) > 1 if names else len(parts) >= 1
        assert all(utf16_len(part) <= 4096 for part in parts)  # as Telegram counts
        assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)  # nothing lost


def test_a_card_being_sent_when_the_notice_starts_asking_gets_the_button(
    tmp_path: Path,
) -> None:
    """Bug (race): Acks.ask_to_confirm requeues only rows already 'sent' to add the
    button. A row the reconciler holds ('sending': its plan made before the notice
    asked, so its card has no ✅ 收到) settles as 'sent' afterwards, and nothing ever
    queues it again: settle requeues on a version or status change only, and
    queue_ack_counts sees acks_shown NULL = count 0. That chat's card never gets the
    button (a correction adding ack: true, or an admin switching 需要确认 on for a
    broadcast of a notice still going out to 2,000 chats, misses up to the
    dispatcher's concurrency of them)."""
    store = _ledger(tmp_path, "停水通知")
    group, private = -1_001_000_000_950, 950
    for chat in (Chat(group, type="supergroup", title="5号楼"), Chat(private)):
        store.subscribe(chat)
        store.enqueue("n1", [chat.id])
    rows = {d.chat_id: d.id for d in store.deliveries()}
    assert sorted(store.claim(rows.values())) == sorted(rows.values())  # being sent
    store.ask_to_confirm("n1")  # meanwhile, the notice starts asking
    for chat_id, delivery_id in rows.items():  # the cards went out as planned: no button
        card = Part(0, chat_id, (7,), "sendMessage", "h", store.clock())
        asyncio.run(store.settle(delivery_id, SENT, "v1", copy=(card,)))
    store.queue_ack_counts()
    statuses = {d.chat_id: d.status for d in store.deliveries()}
    assert statuses == {group: QUEUED, private: QUEUED}, f"never brought the button: {statuses}"
