"""One bot admin may not confirm (or cancel) what another admin asked, and a confirm
works once, while fresh, where it was asked: a replayed or stale or moved press does
nothing. End to end through the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat import admin as admin_commands
from tests.botenv import ADMIN, LiveBot, live_bot, message_update
from tests.emulator import Emulator

OTHER_ADMIN = 901
GROUP = -1002700  # where both admins work
SUBSCRIBER = 2701


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    async with live_bot(tmp_path, emulator, admins=frozenset({ADMIN, OTHER_ADMIN})) as live:
        yield live


async def _asked(bot: LiveBot, chat: int = GROUP) -> tuple[int, str, str]:
    """A subscriber, and ADMIN's announcement asked in ``chat``: the question's id and
    the data of its Confirm and Cancel buttons."""
    await bot.say(message_update(SUBSCRIBER, "/subscribe"))
    kind = "supergroup" if chat < 0 else "private"
    update = message_update(chat, "/announce 今晚停电", user_id=ADMIN, chat_type=kind)
    _preview, question = await bot.say(update, replies=2)
    (yes, no) = [b["callback_data"] for b in question.params["reply_markup"]["inline_keyboard"][0]]
    return question.message_ids[0], yes, no


async def _delivered(bot: LiveBot, start: int, wait: float = 10.0) -> bool:
    for _ in range(int(wait / 0.05)):
        if any(c.ok and c.params.get("chat_id") == SUBSCRIBER for c in bot.emulator.calls[start:]):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_another_admins_confirm_does_nothing(bot: LiveBot) -> None:
    """The other admin's Confirm and Cancel: "only the admin who asked", nothing sent,
    the question untouched; then the asker's Confirm sends. (The old code sent on the
    other admin's press.)"""
    question, yes, no = await _asked(bot)
    for data, language, said in (
        (yes, "zh-hans", "只有发起的管理员可以确认。"),
        (no, "en", "Only the admin who asked can confirm."),
    ):
        start = bot.mark()
        bot.emulator.press(GROUP, question, OTHER_ADMIN, data, language=language)
        answer = await bot.answer(start)
        assert answer.params["text"] == said
        await bot.quiet(0.3)
        assert bot.changed(start) == []
    start = bot.mark()
    bot.emulator.press(GROUP, question, ADMIN, yes)
    assert await _delivered(bot, start)


async def test_a_replayed_confirm_does_nothing(bot: LiveBot) -> None:
    """The asker's second press of the same Confirm, on the question (now the progress)
    or another message of the chat: answered, nothing sent, nothing edited. (The old
    code overwrote the pressed message with "expired".)"""
    question, yes, _no = await _asked(bot)
    start = bot.mark()
    bot.emulator.press(GROUP, question, ADMIN, yes)
    assert await _delivered(bot, start)
    for _ in range(200):  # the progress is done being shown
        if "完成" in (bot.emulator.shown(GROUP)[-1]["text"] or ""):
            break
        await asyncio.sleep(0.05)
    shown = bot.emulator.shown(GROUP)
    for message in (question, shown[0]["message_id"]):
        start = bot.mark()
        bot.emulator.press(GROUP, message, ADMIN, yes)
        answer = await bot.answer(start)
        assert "失效" in answer.params["text"]
        await bot.quiet(0.3)
        assert bot.changed(start) == []
    assert bot.emulator.shown(GROUP) == shown
    assert len(list(bot.runtime.config.announce_dir.glob("*.md"))) == 1


async def test_a_stale_confirm_does_nothing(bot: LiveBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """A question left unanswered past its time cannot be confirmed any more. (The old
    code kept it open for ever.)"""
    monkeypatch.setattr(admin_commands, "CONFIRM_FOR", 0.5, raising=False)
    question, yes, _no = await _asked(bot)
    await asyncio.sleep(0.7)
    start = bot.mark()
    bot.emulator.press(GROUP, question, ADMIN, yes)
    answer = await bot.answer(start)
    assert "失效" in answer.params["text"]
    assert not await _delivered(bot, start, wait=1.0)
    assert bot.changed(start) == []


async def test_a_confirm_pressed_in_another_chat_does_nothing(bot: LiveBot) -> None:
    """The asker presses the group question's data on a message of the bot's in his
    private chat: the confirm belongs to the question it was sent with. (The old code
    sent, and showed the progress on the private message.)"""
    _question, yes, _no = await _asked(bot)
    (mine,) = await bot.say(message_update(ADMIN, "/help"))
    start = bot.mark()
    bot.emulator.press(ADMIN, mine.message_ids[0], ADMIN, yes)
    answer = await bot.answer(start)
    assert "失效" in answer.params["text"]
    assert not await _delivered(bot, start, wait=1.0)
    assert bot.changed(start) == []
