"""What a chat is shown of a notice's state, and that a short notice comes once: the
real bot (python-telegram-bot over HTTP) against the Bot API emulator, a real SQLite
ledger and real article files. The formatter's own tests are in tests/test_card_states.py.
"""

from __future__ import annotations

from pathlib import Path

from bot.ledger import Chat
from tests import ledgers
from tests.botenv import NOTICE_BODY, BotEnv, running_bot
from tests.emulator import Call, Emulator

pytestmark = ledgers.each_backend

GROUP = -555
PRIVATE = 101
SHORT = "<p>本周六上午五号楼停水，请<strong>提前储水</strong>。</p>"


def _sent(emulator: Emulator, chat_id: int) -> list[Call]:
    return [c for chat, c in emulator.delivered() if chat == chat_id]


def _words(message: Call | dict) -> str:
    params = message.params if isinstance(message, Call) else message
    return params.get("text") or params.get("caption") or ""


def _buttons(message: Call) -> list[dict]:
    markup = message.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def _published(env: BotEnv, body: str, extra: str = "") -> Path:
    env.write_standing()
    env.scan()
    env.subscribe(GROUP, type="group", mode="full")
    env.subscribe(PRIVATE)  # card only
    path = env.write_article("n.md", title="停水通知", body=body, extra=extra)
    env.scan()
    await env.send()
    return path


async def test_a_full_mode_subscriber_gets_a_short_notice_once_as_its_card(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        await _published(env, SHORT)
        for chat in (GROUP, PRIVATE):
            (card,) = _sent(free, chat)  # the card alone: it holds the whole notice
            assert "本周六上午五号楼停水，请提前储水。" in _words(card)
            assert not [b for b in _buttons(card) if "callback_data" in b]  # no 阅读全文
            bold = [e for e in card.params["entities"] if e["type"] == "bold"]
            assert len(bold) == 2  # the title, and the body's own bold word


async def test_a_long_notice_comes_as_card_and_text_and_its_card_needs_no_read_button(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        await _published(env, NOTICE_BODY)
        card, text = _sent(free, GROUP)
        assert _buttons(card) == []  # a full-mode chat: the text is right below the card
        assert text.method == "sendMessage" and not _buttons(text)


async def test_an_urgent_notice_s_card_starts_with_the_urgent_mark(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        await _published(env, SHORT, "priority: urgent\n")
        for chat in (GROUP, PRIVATE):
            assert _words(_sent(free, chat)[0]).startswith("🔴 紧急 停水通知\n")


async def test_a_corrected_card_says_on_what_day_and_at_what_time(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        await _published(env, SHORT)
        env.clock.advance(86400 + 3600)
        env.write_article("n.md", title="停水通知", body=SHORT.replace("周六", "周日"))
        env.scan()
        await env.send()
        (card,) = free.shown(GROUP)  # edited in place, still the only message
        lines = _words(card).split("\n")
        assert lines[2].startswith("🔄 已于") and lines[2].endswith("更新"), lines
        assert "月" in lines[2] and "日 " in lines[2]  # the day, not only the time
        assert "本周日上午" in _words(card)


async def test_an_expired_notice_s_card_says_so_where_it_is_asked_for(
    tmp_path: Path, free: Emulator
) -> None:
    """``Sender.messages_for(expired=True)`` (what /read passes for an expired notice)
    gives a card that says so, formatted apart from the same chat's usual card."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        await _published(env, SHORT, "priority: urgent\n")
        (row,) = env.runtime.store.recent_articles(1)
        article = env.runtime.store.published(row["id"])
        assert article is not None
        sender, reader = env.runtime.sender, Chat(PRIVATE, mode="full")
        usual = sender.messages_for(article["id"], article["version"], reader)
        expired = sender.messages_for(article["id"], article["version"], reader, expired=True)
        again = sender.messages_for(article["id"], article["version"], reader)
        assert usual is not None and expired is not None and again == usual
        assert "⏰ 此通知已过期，仅供查阅。" in _words(expired[0].params)
        assert not _words(expired[0].params).startswith("🔴")  # no longer urgent
        assert "⏰" not in _words(usual[0].params) and _words(usual[0].params).startswith("🔴")
