"""Confirmations in the ledger and their pure parts: rounds, once per person, reminders
once per round, forgetting, the button and the reminder's words, durations."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config, ConfigError, load_config
from bot.durations import parse_duration
from bot.formatting.acks import reminder, with_ack_button
from bot.formatting.outgoing import Outgoing
from bot.ledger import ACTIVE, QUEUED, SENT, Chat, Store
from bot.ledger.copies import Part
from bot.reading.articles import parse_article
from bot.sending.reminders import after_quiet_hours
from tests import ledgers
from tests.botenv import Clock

pytestmark = ledgers.each_backend

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _store(tmp_path: Path, clock: Clock | None = None) -> Store:
    return Store(ledgers.current(tmp_path), clock or Clock(1_700_000_000.0))


def _article(store: Store, article_id: str = "n1", date: float | None = None) -> None:
    store.save_article(
        {
            "id": article_id,
            "title": "停水通知",
            "date": store.clock() if date is None else date,
            "status": ACTIVE,
            "content_hash": "v1",
            "categories": "[]",
            "tags": "[]",
        }
    )
    store.save_version(article_id, "v1", "{}")


def _delivered(store: Store, article_id: str, chat: Chat) -> int:
    """The notice shown in the chat: its row settled as sent, with its card."""
    store.subscribe(chat)
    store.enqueue(article_id, [chat.id])
    (delivery,) = [d for d in store.deliveries(chat.id) if d.article_id == article_id]
    store.claim([delivery.id])
    card = Part(0, chat.id, (7,), "sendMessage", "h", store.clock())
    asyncio.run(store.settle(delivery.id, SENT, "v1", copy=(card,)))
    return delivery.id


def test_a_person_confirms_once_a_round_and_a_renew_starts_again(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    assert store.record_ack("n1", -100, 5, "王", "v1") is None  # the notice does not ask
    assert store.ask_to_confirm("n1") == 1
    first = store.record_ack("n1", -100, 5, "王", "v1")
    assert first is not None and first[0] is True
    store.clock.advance(60)
    again = store.record_ack("n1", -100, 5, "王", "v2")
    assert again == (False, first[1])  # the first time, unchanged
    store.record_ack("n1", -100, 6, "李", "v1")
    store.record_ack("n1", 6, 6, "李", "v1")  # the same person in private
    assert store.ack_count("n1", -100) == 2
    assert store.ack_overview()[0]["confirmed"] == 2  # people, not presses
    assert store.renew_acks("n1") == 2
    assert store.ack_count("n1", -100) == 0
    assert [p["round"] for p in store.ack_people("n1", every_round=True)] == [1, 1, 1]
    assert store.ack_people("n1") == []
    assert store.acks_total() == 3
    assert store.renew_acks("other") is None


def test_ack_renew_in_a_file_starts_one_round_per_version(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    assert store.ask_to_confirm("n1", renew_version="v1") == 1  # new: simply asks
    assert store.ask_to_confirm("n1", renew_version="v1") == 1  # the same file read again
    assert store.ask_to_confirm("n1", renew_version="v2") == 2  # a correction saying renew
    assert store.ask_to_confirm("n1", renew_version="v2") == 2
    assert store.ask_to_confirm("n1") == 2  # a correction that does not


def test_a_notice_on_its_way_to_a_chat_may_be_confirmed_there(tmp_path: Path) -> None:
    """Its card may be in the chat before the reconciler records it (an urgent card is
    pinned before the row settles): a press then is no forgery."""
    store = _store(tmp_path)
    _article(store)
    store.subscribe(Chat(-100, type="supergroup"))
    assert not store.reached("n1", -100)
    store.enqueue("n1", [-100])
    (row,) = store.deliveries(-100)
    store.claim([row.id])
    assert store.reached("n1", -100)
    store.finish(row.id, "skipped", "unsubscribed")
    assert not store.reached("n1", -100)


def test_asking_later_brings_delivered_copies_the_button(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    row = _delivered(store, "n1", Chat(-100, type="supergroup"))
    store.ask_to_confirm("n1")
    assert [d.status for d in store.deliveries(-100)] == [QUEUED]
    store.claim([row])
    asyncio.run(store.settle(row, SENT, "v1"))
    store.ask_to_confirm("n1")  # asking again changes nothing
    assert [d.status for d in store.deliveries(-100)] == [SENT]


def test_a_groups_card_is_queued_when_its_count_falls_behind(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    store.ask_to_confirm("n1")
    group = _delivered(store, "n1", Chat(-100, type="supergroup"))
    _delivered(store, "n1", Chat(5))
    store.note_acks_shown(group, 0)
    assert store.queue_ack_counts() == 0  # nothing pressed: nothing to edit
    store.record_ack("n1", -100, 8, "a", "v1")
    store.record_ack("n1", 5, 5, "b", "v1")  # a private chat's card shows no count
    assert store.queue_ack_counts() == 1
    assert {d.chat_id: d.status for d in store.deliveries()} == {-100: QUEUED, 5: SENT}
    store.claim([group])
    store.record_ack("n1", -100, 9, "c", "v1")
    assert store.queue_ack_counts() == 0  # being edited: not taken from its worker
    asyncio.run(store.settle(group, SENT, "v1"))
    store.note_acks_shown(group, 1)  # the count it was edited to
    assert store.queue_ack_counts() == 1  # one press came meanwhile
    store.claim([group])
    asyncio.run(store.settle(group, SENT, "v1"))
    store.note_acks_shown(group, 2)
    assert store.queue_ack_counts() == 0


def test_a_rounds_reminder_goes_once_to_who_has_not_confirmed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    now = store.clock()
    store.ask_to_confirm("n1", remind_at=now + 3600, remind_after=3600)
    for chat in (Chat(1), Chat(2), Chat(3), Chat(-100, type="supergroup")):
        _delivered(store, "n1", chat)
    store.subscribe(Chat(4))  # subscribed, but the notice never reached it
    store.subscribe(Chat(-200, type="channel"))
    store.enqueue("n1", [-200])
    store.record_ack("n1", 1, 1, "a", "v1")
    store.record_ack("n1", -100, 2, "b", "v1")  # confirmed in the group: not reminded
    assert store.reminders_due(now + 3599) == []
    (due,) = store.reminders_due(now + 3600)
    assert sorted(c.id for c in store.to_remind(due.article_id, due.round)) == [-100, 3]
    assert store.send_reminder(due, {3: now, -100: now}) == 2
    assert store.send_reminder(due, {3: now, -100: now}) == 0  # once a round
    assert store.reminders_due(now + 7200) == []
    reminder_id = "n1#ack1"
    assert store.reminder_of(reminder_id) == ("n1", 1)
    assert reminder_id not in [r["id"] for r in store.recent_articles(10)]
    store.clock.advance(10)
    assert store.renew_acks("n1") == 2  # a new round: armed again, an hour from now
    (again,) = store.reminders_due(store.clock() + 3600)
    assert again.round == 2
    assert sorted(c.id for c in store.to_remind("n1", 2)) == [-100, 1, 2, 3]
    assert store.withdraw_reminders("n1") >= 0
    assert store.article(reminder_id)["status"] == "withdrawn"


def test_confirmations_are_forgotten_once_their_notice_stopped_asking_long_enough(
    tmp_path: Path,
) -> None:
    clock = Clock(1_700_000_000.0)
    store = _store(tmp_path, clock)
    day = 86400.0
    _article(store, "old", date=clock() - 400 * day)  # an old notice broadcast now asks anew
    _article(store, "new")
    store.ask_to_confirm("old")
    clock.advance(2 * day)
    store.ask_to_confirm("new")
    for article_id in ("old", "new"):
        store.record_ack(article_id, 5, 5, "王", "v1")
    assert store.forget_acks(clock() - 3 * day) == 0  # the notice's own date counts not
    assert store.forget_acks(clock() - day) == 1
    assert store.ack_round("old") is None and store.ack_people("old") == []
    assert len(store.ack_people("new")) == 1
    assert store.acks_total() == 2  # a counter: what was forgotten still counted


def test_the_button_sits_first_beside_the_cards_buttons() -> None:
    card = Outgoing(
        "sendPhoto",
        {
            "photo": "p",
            "caption": "c",
            "reply_markup": {
                "inline_keyboard": [[{"text": "阅读全文", "callback_data": "read:n"}]]
            },
        },
        "card",
    )
    text = Outgoing("sendMessage", {"text": "t"}, "text")
    (first, second) = with_ack_button([card, text], "n", "zh")
    assert first.params["reply_markup"]["inline_keyboard"] == [
        [
            {"text": "✅ 收到", "callback_data": "ack:n"},
            {"text": "阅读全文", "callback_data": "read:n"},
        ]
    ]
    assert second == text
    (counted,) = with_ack_button([first], "n", "en", 37)  # the count replaces, never adds
    assert counted.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Got it · 37"
    assert len(counted.params["reply_markup"]["inline_keyboard"][0]) == 2
    assert with_ack_button([], "n", "zh") == []


def test_the_reminder_says_what_to_confirm_and_a_groups_count() -> None:
    (private,) = reminder("停水通知", "n", "zh")
    assert private.params["text"] == "请确认已阅读：停水通知"
    assert private.params["reply_markup"]["inline_keyboard"] == [
        [{"text": "✅ 收到", "callback_data": "ack:n"}]
    ]
    (group,) = reminder("停水通知", "n", "en", count=1)
    assert "1 person has confirmed" in group.params["text"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("6h", 21600), ("90m", 5400), ("1d12h", 129600), ("45s", 45), (2, 7200), ("1.5h", 5400)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["2022-02-20", "soon", "0h", True, "6x", "", "-1h"])
def test_what_is_no_duration(value: object) -> None:
    assert parse_duration(value) is None


def test_front_matter_asks_and_says_when_to_remind() -> None:
    def read(front: str) -> tuple[str, datetime | None, tuple[str, ...]]:
        raw = f"---\ntitle: T\ndate: 2022-02-20 08:00\n{front}\n---\nbody".encode()
        article = parse_article(raw, Path("n.md"), Path("."), Config())
        return article.ack, article.ack_by, article.warnings

    at = datetime(2022, 2, 20, 14, 0, tzinfo=SHANGHAI)
    assert read("ack: true") == ("yes", None, ())
    assert read("confirm: true\nack_by: 6h") == ("yes", at, ())
    assert read("ack_by: 2022-02-20 14:00") == ("yes", at, ())
    assert read("ack: renew")[0] == "renew"
    assert read("ack: false") == ("", None, ())
    assert read("ack: maybe")[2] == ("ack 'maybe' not understood (true, false or renew); ignored",)
    assert read("ack: true\nack_by: soon")[:2] == ("yes", None)


def test_remind_setting() -> None:
    assert load_config({"NOTICEBOT_ACK_REMIND": "6h"}).ack_remind == 21600
    assert load_config({"NOTICEBOT_ACK_REMIND": "off"}).ack_remind is None
    assert load_config({}).ack_remind is None and load_config({}).ack_keep_days == 90
    with pytest.raises(ConfigError, match="NOTICEBOT_ACK_REMIND must be a duration"):
        load_config({"NOTICEBOT_ACK_REMIND": "tomorrow"})


def test_a_reminder_waits_for_the_end_of_quiet_hours() -> None:
    config = Config()
    quiet = Chat(1, quiet_start="22:00", quiet_end="07:00")

    def at(hour: int, minute: int = 0, day: int = 6) -> float:
        return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).timestamp()

    assert after_quiet_hours(quiet, at(21, 59), config) == at(21, 59)
    assert after_quiet_hours(quiet, at(23), config) == at(7, day=7)
    assert after_quiet_hours(quiet, at(6, 59), config) == at(7)
    assert after_quiet_hours(Chat(2), at(23), config) == at(23)


def test_a_reminder_row_names_its_notice_and_goes_at_each_chats_time(tmp_path: Path) -> None:
    """Found by make mutate: the reminder's title, each chat's time (one after its quiet
    hours), its kind, and how many were queued."""
    store = _store(tmp_path)
    _article(store)
    now = store.clock()
    store.ask_to_confirm("n1", start=now, remind_after=3600)
    assert store.asking("n1").remind_at == now + 3600  # an hour after it went out
    for chat in (1, 2, 3):
        _delivered(store, "n1", Chat(chat))
    later = now + 8 * 3600
    asking = store.asking("n1")
    assert store.send_reminder(asking, {1: now, 2: later, 3: later}) == 3
    assert store.article("n1#ack1")["title"] == "停水通知"
    rows = {d.chat_id: d for d in store.deliveries() if d.article_id == "n1#ack1"}
    assert {chat: d.kind for chat, d in rows.items()} == dict.fromkeys((1, 2, 3), "reminder")
    assert store.due(now, 10) == [rows[1].id]  # the others wait for their quiet hours' end
    assert sorted(store.due(later, 10)) == sorted(d.id for d in rows.values())
    assert store.withdraw_reminders("n1") == 0  # nothing of them sent yet: nothing to retract
    assert store.asking("nope") is None and store.reminder_of("nope") is None


def test_who_confirmed_is_asked_per_round(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _article(store)
    store.ask_to_confirm("n1")
    assert not store.has_confirmed("n1", 5)
    first = store.record_ack("n1", -100, 5, "王", "v1")
    assert first == (True, store.clock())  # when, as the ledger's clock says
    assert store.has_confirmed("n1", 5) and not store.has_confirmed("n1", 6)
    store.renew_acks("n1")
    assert not store.has_confirmed("n1", 5)  # this round: not yet
    assert store.has_confirmed("n1", 5, 1)  # the first round: yes


def test_forgotten_confirmations_add_up_in_the_total(tmp_path: Path) -> None:
    clock = Clock(1_700_000_000.0)
    store = _store(tmp_path, clock)
    for article_id in ("a", "b"):
        _article(store, article_id)
        store.ask_to_confirm(article_id)
        store.record_ack(article_id, 5, 5, "王", "v1")
        clock.advance(10)
    assert store.forget_acks(clock() - 15) == 1
    assert store.forget_acks(clock()) == 1
    assert store.acks_total() == 2


def test_an_explicit_reminder_time_after_the_start_is_at_least_a_minute_for_later_rounds(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    _article(store)
    now = store.clock()
    store.ask_to_confirm("n1", start=now, remind_at=now + 30)  # ack_by: 30 s after
    assert store.asking("n1").remind_at == now + 30  # the first round: as the file says
    store.renew_acks("n1")
    assert store.asking("n1").remind_at == now + 60  # the next: a minute after it starts
