"""Anyone may press any data on a message they see (Telegram does not check it against
the buttons): data no button of ours carries is answered shortly, in the presser's
language, changes nothing and logs no error or traceback. End to end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.botenv import ADMIN, LiveBot, live_bot, message_update
from tests.emulator import Emulator

RESIDENT = 3001
MALFORMED = (
    "set:mode:x",
    "set:mode",
    "set:",
    "set:lang:fr",
    "set:quiet:maybe",
    "set:digest:09:00",
    "set:filters:all",
    "bc:yes",
    "bc:yes:zz",
    "bc:maybe:0123456789ab",
    "read:" + "x" * 100,
    "set:lang:" + "e" * 100,
)


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    async with live_bot(tmp_path, emulator) as live:
        yield live


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [] and "Traceback" not in caplog.text


@pytest.mark.parametrize("data", MALFORMED)
async def test_malformed_data_is_answered_and_ignored(
    bot: LiveBot, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    """A resident's forged press on their own settings menu. (On the old code: "set:mode",
    "set:" and "bc:yes" raised ValueError with a traceback and no answer; the over-long
    read sent a "not found" message; the rest answered "saved" and edited the menu, or
    "for admins only".)"""
    caplog.set_level(logging.INFO)
    await bot.say(message_update(RESIDENT, "/subscribe"))
    (menu,) = await bot.say(message_update(RESIDENT, "/settings"))
    before = bot.runtime.store.chat(RESIDENT)
    start = bot.mark()
    bot.emulator.press(RESIDENT, menu.message_ids[0], RESIDENT, data)
    answer = await bot.answer(start)
    assert answer.params["text"] == "这个按钮已失效。"
    await bot.quiet(0.3)
    assert bot.changed(start) == []
    assert bot.runtime.store.chat(RESIDENT) == before
    _no_errors(caplog)


async def test_malformed_data_is_answered_in_the_pressers_language(
    bot: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """An English-speaking bot admin's forged confirmation: answered in English.
    (The old code raised ValueError, with a traceback and no answer.)"""
    (said,) = await bot.say(message_update(ADMIN, "/help", language="en"))
    start = bot.mark()
    bot.emulator.press(ADMIN, said.message_ids[0], ADMIN, "bc:yes", language="en")
    answer = await bot.answer(start)
    assert answer.params["text"] == "This button no longer works."
    await bot.quiet(0.3)
    assert bot.changed(start) == []
    _no_errors(caplog)


async def test_a_setting_forged_on_a_card_is_ignored(
    bot: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A valid setting pressed on a message whose buttons are no settings (the bot's
    /settings question of an announcement here): the resident's own chat, but not a
    settings menu, so the message is not turned into one. (The old code replaced the
    message with the settings menu.)"""
    await bot.say(message_update(RESIDENT, "/subscribe"))
    _preview, question = await bot.say(message_update(ADMIN, "/announce 今晚停电"), replies=2)
    before = bot.runtime.store.chat(ADMIN)
    start = bot.mark()
    bot.emulator.press(ADMIN, question.message_ids[0], ADMIN, "set:mode:full")
    answer = await bot.answer(start)
    assert answer.params["text"] == "这个按钮已失效。"
    await bot.quiet(0.3)
    assert bot.changed(start) == []
    assert bot.runtime.store.chat(ADMIN) == before
    _no_errors(caplog)


async def test_an_unknown_prefix_is_answered(bot: LiveBot) -> None:
    """Data no handler takes: answered, so the presser's spinner stops. (The old code
    left it unanswered.)"""
    (menu,) = await bot.say(message_update(RESIDENT, "/settings"))
    start = bot.mark()
    bot.emulator.press(RESIDENT, menu.message_ids[0], RESIDENT, "zz:1")
    answer = await bot.answer(start)
    assert answer.params["text"] == "这个按钮已失效。"
