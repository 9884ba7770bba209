"""A channel subscriber (not an admin) may read a card's full text, and may not change
the channel's settings: Telegram lets every subscriber press any data on any post, and
the press's ``from`` is the subscriber, never the channel. End to end through the
emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.botenv import LiveBot, live_bot, message_update
from tests.chaos import article_text
from tests.emulator import Emulator

CHANNEL = -1001500
SUBSCRIBER = 1501
CHANNEL_ADMIN = 1502
FORGED = ("set:digest:08:00", "set:lang:en", "set:quiet:on", "set:filters:clear")


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    emulator.channels.add(CHANNEL)
    emulator.grant(CHANNEL, "can_post_messages")
    emulator.set_member(CHANNEL, SUBSCRIBER, "member")
    emulator.set_member(CHANNEL, CHANNEL_ADMIN, "administrator")
    async with live_bot(tmp_path, emulator) as live:
        live.runtime.scanner.scan()
        yield live


def _settings(bot: LiveBot) -> tuple:
    chat = bot.runtime.store.chat(CHANNEL)
    return (chat.mode, chat.digest_time, chat.language, chat.quiet_start, chat.filters)


async def _subscribed_with_a_card(bot: LiveBot) -> tuple[int, int]:
    """The channel subscribed with keywords (so clearing them would show), in card mode;
    a new notice's card posted there. Its id, and the id of the bot's "subscribed"."""
    (reply,) = await bot.say(message_update(CHANNEL, "/subscribe 停水", chat_type="channel"))
    start = bot.mark()
    (bot.articles / "water.md").write_text(article_text("本周六停水"), encoding="utf-8")
    (card,) = await bot.wait_calls(start, 1)
    assert card.params["chat_id"] == CHANNEL
    return card.message_ids[0], reply.message_ids[0]


async def test_a_subscribers_forged_settings_on_a_card_change_nothing(bot: LiveBot) -> None:
    """The review's attack: each setting pressed on the channel's card by a subscriber.
    (The old code turned the channel into a daily English digest.)"""
    card_id, _ = await _subscribed_with_a_card(bot)
    before, shown = _settings(bot), bot.emulator.shown(CHANNEL)
    assert before[0] == "card" and before[4] == ("停水",)
    for data in FORGED:
        start = bot.mark()
        bot.emulator.press(CHANNEL, card_id, SUBSCRIBER, data)
        answer = await bot.answer(start)
        assert answer.params.get("text")  # a short answer, the spinner stops
        await bot.quiet(0.2)
        assert bot.changed(start) == []
    assert _settings(bot) == before
    assert bot.emulator.shown(CHANNEL) == shown


async def test_a_subscriber_is_refused_where_an_admin_may_change_settings(bot: LiveBot) -> None:
    """On the channel's settings menu the presser's right alone decides: the subscriber
    (getChatMember: member) is refused in Chinese, the channel's admin may. (The old
    code let anyone, the press coming "from the channel".)"""
    await _subscribed_with_a_card(bot)
    (menu,) = await bot.say(message_update(CHANNEL, "/settings", chat_type="channel"))
    said_id = menu.message_ids[0]
    before = _settings(bot)
    start = bot.mark()
    bot.emulator.press(CHANNEL, said_id, SUBSCRIBER, "set:lang:en")
    answer = await bot.answer(start)
    assert answer.params["text"] == "抱歉，只有管理员可以更改这里的设置。"
    await bot.quiet(0.2)
    assert bot.changed(start) == [] and _settings(bot) == before

    start = bot.mark()  # in English for an English-speaking subscriber
    bot.emulator.press(CHANNEL, said_id, SUBSCRIBER, "set:quiet:on", language="en")
    answer = await bot.answer(start)
    assert answer.params["text"] == "Sorry, only administrators can change the settings here."
    lookups = [
        c
        for c in bot.emulator.calls
        if c.method == "getChatMember" and int(c.params["user_id"]) == SUBSCRIBER
    ]
    assert len(lookups) == 1  # remembered for a while, not asked on every press

    start = bot.mark()
    bot.emulator.press(CHANNEL, said_id, CHANNEL_ADMIN, "set:lang:en")
    (menu,) = await bot.wait_calls(start, 1)
    assert menu.method == "editMessageText" and "Delivery" in menu.params["text"]
    assert bot.runtime.store.chat(CHANNEL).language == "en"


async def test_a_subscriber_may_still_read_the_full_text(bot: LiveBot) -> None:
    """What a card's button is for stays open to every subscriber: the text in private."""
    card_id, _ = await _subscribed_with_a_card(bot)
    await bot.say(message_update(SUBSCRIBER, "/start"))
    card = bot.emulator.shown(CHANNEL)[-1]
    (data,) = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    start = bot.mark()
    bot.emulator.press(CHANNEL, card_id, SUBSCRIBER, data)
    calls = await bot.wait_calls(start, 1)
    assert {c.params["chat_id"] for c in calls} == {SUBSCRIBER}
