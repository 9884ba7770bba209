"""`/read` of a short notice: the card already holds all of it (its links and
formatting too), so it comes once, without a read button; a notice whose text says
more still gets its full text. The bot polls the local Bot API emulator over HTTP,
with a real ledger and real files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.botenv import LiveBot, live_bot, message_update
from tests.emulator import Call, Emulator

SHORT = """---
title: 五号楼停水
date: 2022-02-01 09:00:00
id: water
categories: [公告]
---

本周六上午五号楼停水，请提前储水。
"""
LINKED = SHORT.replace("id: water", "id: water_link").replace(
    "请提前储水。", '请提前储水，详见<a href="https://example.org/a">通知</a>。'
)
LONG = SHORT.replace("id: water", "id: water_long").replace(
    "本周六上午五号楼停水，请提前储水。", "本周六上午五号楼停水，请提前储水。" * 40
)


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in (("short.md", SHORT), ("linked.md", LINKED), ("long.md", LONG)):
        (folder / name).write_text(text, encoding="utf-8")
    async with live_bot(tmp_path, emulator) as live:
        live.runtime.scanner.scan()
        yield live


def _shown(call: Call) -> str:
    return call.params.get("text") or call.params.get("caption") or ""


async def test_read_of_a_short_notice_sends_it_once(bot: LiveBot) -> None:
    (card,) = await bot.say(message_update(61, "/read_water"))
    assert "本周六上午五号楼停水，请提前储水。" in _shown(card)
    assert "reply_markup" not in card.params  # no read button: nothing more to read
    assert await bot.quiet() == []  # and not the same text again


async def test_read_of_a_short_notice_with_a_link_keeps_the_link_on_its_card(
    bot: LiveBot,
) -> None:
    (card,) = await bot.say(message_update(61, "/read_water_link"))
    assert "详见通知。" in _shown(card) and "reply_markup" not in card.params
    (link,) = [e for e in card.params["entities"] if e["type"] == "text_link"]
    assert link["url"] == "https://example.org/a"
    assert await bot.quiet() == []


async def test_read_of_a_notice_the_card_does_not_hold_sends_the_text(bot: LiveBot) -> None:
    card, text = await bot.say(message_update(61, "/read_water_long"), replies=2)
    assert "reply_markup" not in card.params  # the text is right below: nothing to tap
    assert text.method == "sendMessage"
    assert "本周六上午五号楼停水" in _shown(text)
