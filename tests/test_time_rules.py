"""A notice's time rules end to end (real python-telegram-bot over HTTP against the
emulator, a real SQLite ledger, real article files, the ledger's clock moved by the
test): readers see a notice only from its date, its sends follow its date when it
moves, and a digest lists what became readable since the chat's last one, or since
the chat chose digest mode, once."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from telegram import Update

from tests.botenv import ADMIN, BotEnv, callback_update, message_update, running_bot
from tests.emulator import Call, Emulator, Fault

DAY = 86400.0
SEND_METHODS = {"sendMessage", "sendPhoto", "sendAnimation", "sendMediaGroup"}
# Refused, and refused again as the plain text the sender falls back to.
REFUSED = Fault(400, "Bad Request: message is too long")
UPDATE_IDS = itertools.count(1)


@pytest.fixture
async def env(tmp_path: Path, emulator: Emulator) -> AsyncIterator[BotEnv]:
    async with running_bot(tmp_path, emulator, admins=frozenset({ADMIN})) as bot_env:
        _ten_in_the_morning(bot_env)
        bot_env.scan()  # the first scan of an (empty) archive
        yield bot_env


def _ten_in_the_morning(env: BotEnv) -> None:
    """The clock at ten in the morning of its day in the bot's time zone: after the
    08:00 digest, and a test's minutes never cross the bot's midnight."""
    local = datetime.fromtimestamp(env.clock.now, env.runtime.config.tz)
    env.clock.now = local.replace(hour=10, minute=0, second=0, microsecond=0).timestamp()


async def _say(env: BotEnv, chat_id: int, text: str) -> list[Call]:
    """A command from a private chat, handled; what the bot sent there."""
    return await _handle(env, chat_id, message_update(chat_id, text))


async def _handle(env: BotEnv, chat_id: int, update: dict) -> list[Call]:
    start = len(env.emulator.calls)
    numbered = {"update_id": next(UPDATE_IDS), **update}
    await env.app.process_update(Update.de_json(numbered, env.app.bot))
    return _sent(env, chat_id, start)


def _sent(env: BotEnv, chat_id: int, start: int = 0) -> list[Call]:
    return [
        c
        for c in env.emulator.calls[start:]
        if c.ok and c.method in SEND_METHODS and int(c.params["chat_id"]) == chat_id
    ]


def _text(call: Call) -> str:
    return call.params.get("text") or call.params.get("caption") or ""


def _notice(env: BotEnv, article_id: str, title: str, date: float | None = None) -> Path:
    return env.write_article(
        f"{article_id}.md", title=title, date=date, extra=f"id: {article_id}\n"
    )


def _redate(env: BotEnv, article_id: str, title: str, date: float) -> None:
    """The notice's file rewritten with another date (and a new mtime, as an editor's save)."""
    path = _notice(env, article_id, title, date)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def _choose_digest(env: BotEnv, chat_id: int) -> int:
    """A resident subscribes, then picks the 08:00 digest in /settings, as people do;
    the settings message, whose buttons stay."""
    await _say(env, chat_id, "/subscribe")
    (menu,) = await _say(env, chat_id, "/settings")
    await _press(env, chat_id, menu.message_ids[0], "set:digest:08:00")
    assert env.runtime.store.chat(chat_id).mode == "digest"
    return menu.message_ids[0]


async def _press(env: BotEnv, chat_id: int, message_id: int, data: str) -> None:
    await _handle(env, chat_id, callback_update(chat_id, chat_id, data, message_id=message_id))


async def _digests(env: BotEnv, chat_id: int) -> list[str]:
    """One run of the digest job; the digest texts it sent the chat."""
    start = len(env.emulator.calls)
    await env.runtime.digests.send_due()
    return [_text(c) for c in _sent(env, chat_id, start)]


# --- 7: a date that moves moves the sends --------------------------------------------


async def test_a_postponed_notice_goes_out_on_its_new_date(env: BotEnv) -> None:
    env.subscribe(101, 102)
    _notice(env, "water", "停水通知", date=env.clock.now + DAY)
    assert env.scan().scheduled == ["water"]
    _redate(env, "water", "停水通知", env.clock.now + 8 * DAY)  # postponed by a week
    assert env.scan().corrected == ["water"]
    env.clock.advance(DAY + 60)
    await env.send()
    assert env.emulator.delivered() == []  # not on the old date
    env.clock.advance(7 * DAY - 120)
    await env.send()
    assert env.emulator.delivered() == []
    env.clock.advance(60)
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1, 102: 1}


async def test_a_notice_brought_forward_goes_out_on_its_new_date(env: BotEnv) -> None:
    env.subscribe(101)
    _notice(env, "power", "停电通知", date=env.clock.now + 8 * DAY)
    env.scan()
    _redate(env, "power", "停电通知", env.clock.now + DAY)
    assert env.scan().corrected == ["power"]
    env.clock.advance(DAY - 60)
    await env.send()
    assert env.emulator.delivered() == []
    env.clock.advance(60)
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1}  # not a week late
    _notice(env, "gas", "停气通知", date=env.clock.now + 3 * DAY)
    env.scan()
    _redate(env, "gas", "停气通知", env.clock.now - 60)  # its date moved to the past: now
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 2}


# --- 8: readers see a notice from its date -------------------------------------------


def _today_and_next_week(env: BotEnv) -> None:
    _notice(env, "today", "今日停电通知")
    _notice(env, "later", "下周六停水通知", date=env.clock.now + 7 * DAY)
    env.scan()


async def test_latest_lists_a_notice_from_its_date(env: BotEnv) -> None:
    _today_and_next_week(env)
    (reply,) = await _say(env, 201, "/latest")
    assert "今日停电通知" in _text(reply) and "下周六停水" not in _text(reply)
    env.clock.advance(7 * DAY)
    (reply,) = await _say(env, 201, "/latest")
    assert _text(reply).index("下周六停水通知") < _text(reply).index("今日停电通知")


async def test_read_sends_a_notice_from_its_date(env: BotEnv) -> None:
    _today_and_next_week(env)
    for command in ("/read_later", "/read later", "/start read_later"):
        (reply,) = await _say(env, 202, command)
        assert _text(reply).startswith("找不到编号为 later 的通知")
    env.clock.advance(7 * DAY)
    card, *_rest = await _say(env, 202, "/read_later")
    assert _text(card).startswith("下周六停水通知")


async def test_search_finds_a_notice_from_its_date(env: BotEnv) -> None:
    _today_and_next_week(env)
    env.runtime.store.index_all_for_search()
    for query in ("停水", "下周六停水"):  # short words by substring, longer by the index
        (reply,) = await _say(env, 203, f"/search {query}")
        assert _text(reply).startswith("没有找到"), _text(reply)
    env.clock.advance(7 * DAY)
    for query in ("停水", "下周六停水"):
        (reply,) = await _say(env, 203, f"/search {query}")
        assert "/read_later" in _text(reply)


async def test_a_broadcast_preview_shows_a_notice_from_its_date(env: BotEnv) -> None:
    _today_and_next_week(env)
    (reply,) = await _say(env, ADMIN, "/broadcast later")
    assert _text(reply).startswith("找不到编号为 later 的通知")
    assert env.runtime.pending == {}  # nothing to confirm
    env.clock.advance(7 * DAY)
    preview, question = await _say(env, ADMIN, "/broadcast later")
    assert _text(preview).startswith("下周六停水通知") and "确认" in _text(question)
