"""Who may change a chat's settings or confirm a broadcast, and what a confirmation does:
the rules mutation testing (``make mutate``) found no test for. Each test here failed
against a mutant of the authorization code (``bot/chat/commands.py``, ``admin.py``,
``settings_menu.py``) that the end-to-end tests let pass."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

import bot.chat.admin
import bot.chat.commands
from bot.chat.commands import MEMBER_CACHE_SECONDS, MEMBER_CACHE_SIZE, _administers
from bot.chat.settings_menu import _changes, _on_a_settings_menu, describe, keyboard
from bot.i18n import t
from bot.ledger import Chat as Subscriber
from tests.botenv import ADMIN, LiveBot, live_bot, message_update, until
from tests.emulator import Emulator, Fault


class Members:
    """getChatMember as Telegram answers it, counting the questions."""

    def __init__(self, status: str | None) -> None:
        self.status = status
        self.asked: list[tuple[int, int]] = []

    async def get_chat_member(self, chat_id: int, user_id: int) -> Any:
        self.asked.append((chat_id, user_id))
        if self.status is None:
            raise TelegramError("Chat not found")
        return SimpleNamespace(status=self.status)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        clock = SimpleNamespace(monotonic=lambda: self.now)
        monkeypatch.setattr(bot.chat.commands, "time", clock)


def _context(status: str | None) -> Any:
    return SimpleNamespace(bot_data={}, bot=Members(status))


@pytest.mark.parametrize(
    ("status", "admin"),
    [
        (ChatMemberStatus.OWNER, True),
        (ChatMemberStatus.ADMINISTRATOR, True),
        (ChatMemberStatus.MEMBER, False),
        (ChatMemberStatus.RESTRICTED, False),
        (ChatMemberStatus.LEFT, False),
    ],
)
async def test_only_the_owner_and_administrators_administer(status: str, admin: bool) -> None:
    context = _context(status)
    assert await _administers(context, -100, 7) is admin
    assert context.bot.asked == [(-100, 7)]


async def test_the_answer_is_remembered_a_minute_per_chat_and_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    context = _context(ChatMemberStatus.ADMINISTRATOR)
    assert await _administers(context, -100, 7)
    clock.now += MEMBER_CACHE_SECONDS - 0.01
    context.bot.status = ChatMemberStatus.MEMBER  # demoted: not known yet
    assert await _administers(context, -100, 7)
    assert await _administers(context, -100, 8) is False  # another user: asked
    assert await _administers(context, -200, 7) is False  # another chat: asked
    clock.now += 0.01  # a minute after the first answer: asked again
    assert await _administers(context, -100, 7) is False
    assert context.bot.asked == [(-100, 7), (-100, 8), (-200, 7), (-100, 7)]


async def test_a_failed_lookup_refuses_is_logged_and_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    Clock(monkeypatch)
    context = _context(None)
    with caplog.at_level(logging.WARNING, "bot.chat.commands"):
        assert await _administers(context, -100, 7) is False
    assert [r.getMessage() for r in caplog.records] == [
        "getChatMember -100/7 failed: Chat not found"
    ]
    context.bot.status = ChatMemberStatus.ADMINISTRATOR
    assert await _administers(context, -100, 7) is True
    assert len(context.bot.asked) == 2


async def test_a_full_memory_drops_only_what_is_a_minute_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    context = _context(ChatMemberStatus.MEMBER)
    cache = context.bot_data["administers"] = {}
    old, fresh = clock.now - MEMBER_CACHE_SECONDS, clock.now - MEMBER_CACHE_SECONDS + 1
    cache.update({(-1, user): (old, True) for user in range(MEMBER_CACHE_SIZE)})
    cache[(-2, 1)] = (fresh, True)
    assert len(cache) == MEMBER_CACHE_SIZE + 1
    assert await _administers(context, -3, 1) is False
    assert cache == {(-2, 1): (fresh, True), (-3, 1): (clock.now, False)}


async def test_a_memory_not_over_its_size_keeps_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    context = _context(ChatMemberStatus.MEMBER)
    cache = context.bot_data["administers"] = {}
    old = clock.now - 2 * MEMBER_CACHE_SECONDS
    cache.update({(-1, user): (old, True) for user in range(MEMBER_CACHE_SIZE)})
    await _administers(context, -3, 1)
    assert len(cache) == MEMBER_CACHE_SIZE + 1


@pytest.mark.parametrize(
    ("data", "changes"),
    [
        ("set:mode:card", {"mode": "card"}),
        ("set:mode:full", {"mode": "full"}),
        ("set:digest:08:00", {"mode": "digest", "digest_time": "08:00"}),
        ("set:digest:20:00", {"mode": "digest", "digest_time": "20:00"}),
        ("set:lang:zh", {"language": "zh"}),
        ("set:lang:en", {"language": "en"}),
        ("set:quiet:on", {"quiet_start": "22:00", "quiet_end": "07:00"}),
        ("set:quiet:off", {"quiet_start": None, "quiet_end": None}),
        ("set:filters:clear", {"filters": ()}),
    ],
)
def test_each_settings_button_changes_what_it_says(data: str, changes: dict) -> None:
    assert _changes(data) == changes


@pytest.mark.parametrize(
    "data",
    [
        "",
        "set",
        "set:",
        "set:mode",
        "set:mode:digest",  # a digest is asked for with its time
        "set:mode:card:x",
        "set:digest:09:00",
        "set:digest",
        "set:lang:fr",
        "set:quiet:yes",
        "set:filters:all",
        "set:admins:add",
        "get:mode:card",
        "mode:card",
        "read:f614b98f",
    ],
)
def test_no_other_data_changes_anything(data: str) -> None:
    assert _changes(data) is None


def _message(*rows: list[InlineKeyboardButton] | None) -> Message:
    markup = InlineKeyboardMarkup([r for r in rows if r is not None]) if rows else None
    return Message(1, datetime.now(UTC), Chat(5, Chat.PRIVATE), reply_markup=markup)


def _button(data: object) -> InlineKeyboardButton:
    return InlineKeyboardButton("b", callback_data=data)  # type: ignore[arg-type]


def test_a_settings_menu_is_a_message_with_a_settings_button() -> None:
    card = [_button("read:f614b98f"), InlineKeyboardButton("web", url="https://example.org")]
    assert _on_a_settings_menu(_message(card, [_button("set:mode:card")]))
    assert _on_a_settings_menu(_message([_button(object()), _button("set:lang:en")]))


def test_no_other_message_is_a_settings_menu() -> None:
    card = [_button("read:f614b98f"), InlineKeyboardButton("web", url="https://example.org")]
    assert not _on_a_settings_menu(None)
    menu = InlineKeyboardMarkup([[_button("set:mode:card")]])
    assert not _on_a_settings_menu(SimpleNamespace(reply_markup=menu))  # type: ignore[arg-type]
    assert not _on_a_settings_menu(_message())  # a reply, a full text: no buttons
    assert not _on_a_settings_menu(_message(card))
    assert not _on_a_settings_menu(_message([_button(object())]))
    assert not _on_a_settings_menu(_message([_button("xset:mode:card"), _button("")]))


OTHER_ADMIN, MEMBER, GROUP_ADMIN, GROUP = 901, 2702, 2703, -1002702


@pytest.fixture
async def live(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    emulator.set_member(GROUP, GROUP_ADMIN, "administrator")
    emulator.set_member(GROUP, MEMBER, "member")
    async with live_bot(tmp_path, emulator, admins=frozenset({ADMIN, OTHER_ADMIN})) as bot:
        yield bot


def _said(caplog: pytest.LogCaptureFixture, start: int) -> list[str]:
    return [r.getMessage() for r in caplog.records[start:] if r.name.startswith("bot.chat")]


async def test_every_refusal_is_logged_with_who_and_where(
    live: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Refused and logged with the user id": a member's admin command, a member's and
    another admin's press on a confirmation, a press on a used one, and data that is no
    confirmation or no setting of a settings menu; each one line that says so. Then the
    asker's Cancel says so in the group's language."""
    caplog.set_level(logging.INFO)
    await live.say(message_update(GROUP, "/broadcast x", user_id=MEMBER, chat_type="supergroup"))
    assert _said(caplog, 0) == [f"refused /broadcast from user {MEMBER} in chat {GROUP}"]
    update = message_update(GROUP, "/announce 今晚停电", user_id=ADMIN, chat_type="supergroup")
    _preview, question = await live.say(update, replies=2)
    question_id = question.message_ids[0]
    yes = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    expired = t("broadcast_expired", "en")
    for user, data, line, alert in (
        (MEMBER, yes, f"refused broadcast confirmation from user {MEMBER}", t("refused", "en")),
        (
            OTHER_ADMIN,
            yes,
            f"refused confirmation by user {OTHER_ADMIN} of what user {ADMIN} asked",
            t("confirm_not_yours", "en"),
        ),
        (
            ADMIN,
            "bc:yes:000000000000",
            f"ignored button 'bc:yes:000000000000' from user {ADMIN} in chat {GROUP}:"
            " no such confirmation waits in this chat (used, stale or forged)",
            expired,
        ),
        (
            ADMIN,
            "bc:maybe",
            f"ignored button 'bc:maybe' from user {ADMIN} in chat {GROUP}: not a confirmation",
            None,
        ),
        (
            ADMIN,
            "set:mode:card",
            f"ignored button 'set:mode:card' from user {ADMIN} in chat {GROUP}:"
            " not a setting of a settings menu",
            None,
        ),
    ):
        start = len(caplog.records)
        mark = live.mark()
        live.emulator.press(GROUP, question_id, user, data, language="en")
        answer = (await live.answer(mark)).params
        assert _said(caplog, start) == [line]
        # a refusal is an alert in the presser's language; a meaningless press a toast
        assert answer.get("show_alert", False) is (alert is not None)
        assert alert is None or answer["text"] == alert
    no = question.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    mark = live.mark()
    live.emulator.press(GROUP, question_id, ADMIN, no)
    (cancelled,) = await live.wait_calls(mark, 1)
    assert cancelled.params["text"] == t("broadcast_cancelled", "zh")  # the group's language


async def test_a_members_press_on_the_groups_menu_is_refused_aloud_and_logged(
    live: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal is an alert the member must close, not a toast that slips by."""
    caplog.set_level(logging.INFO)
    await live.say(message_update(GROUP, "/subscribe", user_id=GROUP_ADMIN, chat_type="group"))
    (menu,) = await live.say(
        message_update(GROUP, "/settings", user_id=GROUP_ADMIN, chat_type="group")
    )
    start, mark = len(caplog.records), live.mark()
    live.emulator.press(GROUP, menu.message_ids[0], MEMBER, "set:mode:full")
    answer = await live.answer(mark)
    assert answer.params["show_alert"] is True
    assert answer.params["text"] == "抱歉，只有管理员可以更改这里的设置。"
    assert _said(caplog, start) == [
        f"ignored button 'set:mode:full' from user {MEMBER} in chat {GROUP}:"
        " the presser may not change this chat's settings"
    ]
    assert live.runtime.store.chat(GROUP).mode == "card"


def _edits(live: LiveBot, start: int) -> list:
    return [c for c in live.emulator.calls[start:] if c.method == "editMessageText"]


async def test_an_owners_press_is_saved_and_the_menu_redrawn_in_the_new_language(
    live: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Saved is said in the presser's language; the menu is redrawn whole (text, hint,
    buttons) in the chat's new one; pressing what is already set changes nothing and
    logs no warning (Telegram's "message is not modified"); a menu that cannot be
    redrawn is logged with its chat and Telegram's reason."""
    owner = 2704
    await live.say(message_update(owner, "/subscribe"))
    (menu,) = await live.say(message_update(owner, "/settings"))
    mark = live.mark()
    live.emulator.press(owner, menu.message_ids[0], owner, "set:lang:en", language="en")
    assert (await live.answer(mark)).params["text"] == t("saved", "en")
    (edit,) = await live.wait_calls(mark, 1)
    chat = live.runtime.store.chat(owner)
    assert chat.language == "en"
    assert edit.params["text"] == describe(chat, "en") + "\n\n" + t("settings_filters_hint", "en")
    drawn = [b["text"] for row in edit.params["reply_markup"]["inline_keyboard"] for b in row]
    assert drawn == [b.text for row in keyboard(chat, "en").inline_keyboard for b in row]
    caplog.set_level(logging.WARNING)
    start, mark = len(caplog.records), live.mark()
    live.emulator.press(owner, menu.message_ids[0], owner, "set:lang:en", language="en")
    await until(lambda: _edits(live, mark), "the redraw Telegram refuses as not modified")
    await live.quiet(0.3)
    assert _said(caplog, start) == []
    gone = Fault(400, "Bad Request: message to edit not found")
    live.emulator.fail(owner, "editMessageText", gone)
    start, mark = len(caplog.records), live.mark()
    live.emulator.press(owner, menu.message_ids[0], owner, "set:mode:full", language="en")
    await until(lambda: _edits(live, mark), "the redraw")
    await live.quiet(0.3)
    assert live.runtime.store.chat(owner).mode == "full"  # saved, though not redrawn
    assert _said(caplog, start) == [
        f"settings menu in chat {owner} not updated: Message to edit not found"
    ]


def _update(chat: object, user: object, *, press: bool = False, sender: object = None) -> Any:
    message = SimpleNamespace(sender_chat=sender)
    return SimpleNamespace(
        effective_chat=chat,
        effective_user=user,
        callback_query=SimpleNamespace() if press else None,
        effective_message=message,
    )


async def test_may_manage_refuses_what_names_no_one_it_can_ask_about() -> None:
    """No chat, a press without a presser, a group message without a sender, and the
    anonymous-admin stand-in speaking for another chat: refused, getChatMember unasked."""
    group = SimpleNamespace(id=-100, type="supergroup")
    context = _context(ChatMemberStatus.ADMINISTRATOR)
    stand_in = SimpleNamespace(id=bot.chat.commands.GROUP_ANONYMOUS_BOT)
    elsewhere = SimpleNamespace(id=-200)
    for update in (
        _update(None, SimpleNamespace(id=7)),
        _update(group, None, press=True),
        _update(group, None),
        _update(group, stand_in, sender=elsewhere),
    ):
        assert await bot.chat.commands.may_manage(update, context) is False
    assert context.bot.asked == []


def _confirmation(reply: Any, answer: str) -> str:
    yes, no = reply.params["reply_markup"]["inline_keyboard"][0]
    return (yes if answer == "yes" else no)["callback_data"]


async def test_the_askers_cancel_and_yes_speak_their_language_and_name_them(
    live: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """An English-speaking admin in private: Cancel says so in English; Yes records the
    broadcast as theirs (so it is not taken for one from the command line), logs who
    asked for what, and follows its progress in English at a private chat's pace."""
    caplog.set_level(logging.INFO)
    ask = message_update(OTHER_ADMIN, "/announce Water off tonight", language="en")
    _preview, question = await live.say(ask, replies=2)
    mark = live.mark()
    no = _confirmation(question, "no")
    live.emulator.press(OTHER_ADMIN, question.message_ids[0], OTHER_ADMIN, no, language="en")
    (cancelled,) = await live.wait_calls(mark, 1)
    assert cancelled.params["text"] == t("broadcast_cancelled", "en")

    resident = 2705
    live.runtime.store.subscribe(Subscriber(resident))
    # one slow send: the broadcast is still going at the first look
    live.emulator.fail(resident, "sendMessage", Fault(200, delay=0.5))
    ask = message_update(ADMIN, "/announce Water off tonight", language="en")
    _preview, question = await live.say(ask, replies=2)
    start = len(caplog.records)
    live.emulator.press(
        ADMIN, question.message_ids[0], ADMIN, _confirmation(question, "yes"), language="en"
    )
    await until(lambda: live.app.job_queue.get_jobs_by_name("broadcast-1"), "a progress look")
    (look,) = live.app.job_queue.get_jobs_by_name("broadcast-1")
    assert (look.data.every, look.data.lang) == (bot.chat.admin.PROGRESS_EVERY, "en")
    row = live.runtime.store.broadcast_row(1)
    assert row is not None and row["by_user"] == ADMIN
    assert live.runtime.store.published(row["article_id"])
    assert f"broadcast 1 of {row['article_id']} by {ADMIN}" in _said(caplog, start)


async def test_a_groups_broadcast_is_followed_at_a_groups_pace(live: LiveBot) -> None:
    """A group may get 20 messages a minute, edits included: its progress is looked at
    less often than a private chat's."""
    resident = 2706
    live.runtime.store.subscribe(Subscriber(resident))
    live.emulator.fail(resident, "sendMessage", Fault(200, delay=0.5))
    update = message_update(GROUP, "/announce 今晚停水", user_id=ADMIN, chat_type="supergroup")
    _preview, question = await live.say(update, replies=2)
    live.emulator.press(GROUP, question.message_ids[0], ADMIN, _confirmation(question, "yes"))
    await until(lambda: live.app.job_queue.get_jobs_by_name("broadcast-1"), "a progress look")
    (look,) = live.app.job_queue.get_jobs_by_name("broadcast-1")
    assert (look.data.every, look.data.lang) == (bot.chat.admin.PROGRESS_EVERY_IN_GROUPS, "zh")


async def test_an_announcement_gone_before_its_scan_is_said_and_not_sent(
    live: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Written, then removed before the scan could read it (someone tidied the folder):
    the asker is told in their language, and nobody gets it."""
    caplog.set_level(logging.WARNING)
    live.runtime.store.subscribe(Subscriber(2707))
    ask = message_update(ADMIN, "/announce Water off tonight", language="en")
    _preview, question = await live.say(ask, replies=2)
    folder = live.runtime.config.announce_dir
    mark = live.mark()
    async with live.runtime.scanning:  # the scan waits until the file is gone
        yes = _confirmation(question, "yes")
        live.emulator.press(ADMIN, question.message_ids[0], ADMIN, yes, language="en")
        await until(lambda: list(folder.iterdir()), "the announcement's file")
        (written,) = folder.iterdir()
        written.unlink()
    (said,) = await live.wait_calls(mark, 1)
    assert said.params["text"] == t("announce_not_read", "en")
    assert live.runtime.store.broadcast_row(1) is None
    assert f"announcement {written} not read: not scanned" in _said(caplog, 0)
    await live.quiet(0.3)
    assert [c for c in live.changed(mark) if c.params.get("chat_id") == 2707] == []
