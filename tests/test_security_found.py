"""What an attack on the security model found, each kept as a regular test: a setting
forged on a message without buttons, a number only Unicode calls a digit, and the
anonymous admins of every group sharing Telegram's one stand-in user. End to end with
the emulator."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.chat.commands import GROUP_ANONYMOUS_BOT
from tests.botenv import live_bot, message_update
from tests.emulator import Emulator

USER = 4101
ATTACKER_GROUP, VICTIM_GROUP = -1008801, -1008802


async def test_a_setting_forged_on_a_message_without_buttons_is_ignored(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A reply or a notice's full text has no buttons: no settings menu to press."""
    async with live_bot(tmp_path, emulator) as bot:
        (help_reply,) = await bot.say(message_update(USER, "/help"))
        message_id = help_reply.message_ids[0]
        before = bot.emulator.messages_now()[(USER, message_id)].get("text")
        start = bot.mark()
        bot.emulator.press(USER, message_id, USER, "set:mode:full")
        for _ in range(100):
            if any(c.method == "answerCallbackQuery" for c in bot.emulator.calls[start:]):
                break
            await asyncio.sleep(0.02)
        await bot.quiet(0.3)
        edits = [c for c in bot.emulator.calls[start:] if c.method.startswith("edit") and c.ok]
        assert edits == []
        assert bot.emulator.messages_now()[(USER, message_id)].get("text") == before
        assert bot.runtime.store.chat(USER) is None or bot.runtime.store.chat(USER).mode != "full"


async def test_a_number_only_unicode_calls_a_digit_is_answered(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with live_bot(tmp_path, emulator) as bot:
        (reply,) = await bot.say(message_update(4201, "/latest ²"))
    assert reply.ok
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")]
    assert bugs == []


def _as_group(chat_id: int, text: str) -> dict:
    update = message_update(chat_id, text, user_id=GROUP_ANONYMOUS_BOT, chat_type="supergroup")
    update["message"]["from"].update(first_name="Group", is_bot=True)
    update["message"]["sender_chat"] = {"id": chat_id, "type": "supergroup", "title": "g"}
    return update


async def test_an_anonymous_admin_elsewhere_spends_no_other_groups_budget(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Every anonymous admin is Telegram's one stand-in user: the budget is the group's."""
    async with live_bot(tmp_path, emulator) as bot:
        for _ in range(20):  # a window's budget, from the attacker's own group
            bot.emulator.push(_as_group(ATTACKER_GROUP, "/latest"))
        await asyncio.sleep(1.0)
        start = bot.mark()
        bot.emulator.push(_as_group(VICTIM_GROUP, "/subscribe"))
        for _ in range(400):
            if any(c.params.get("chat_id") == VICTIM_GROUP for c in bot.emulator.calls[start:]):
                break
            await asyncio.sleep(0.02)
        assert any(c.params.get("chat_id") == VICTIM_GROUP for c in bot.emulator.calls[start:])
        victim = bot.runtime.store.chat(VICTIM_GROUP)
        assert victim is not None and victim.active
