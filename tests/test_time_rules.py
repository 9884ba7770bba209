"""A notice's time rules end to end (real python-telegram-bot over HTTP against the
emulator, a real SQLite ledger, real article files, the ledger's clock moved by the
test): readers see a notice only from its date, its sends follow its date when it
moves, and a digest lists what became readable since the chat's last one, or since
the chat chose digest mode, once."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlite_utils
from telegram import Update

from bot.ledger import Store, schema
from bot.ledger.schema import MIGRATIONS
from tests import ledgers
from tests.botenv import ADMIN, BotEnv, message_update, running_bot
from tests.emulator import Call, Emulator, Fault

pytestmark = ledgers.each_backend

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
    await _handle(env, chat_id, env.emulator.pressed(chat_id, message_id, chat_id, data))


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
        assert _text(reply).startswith("没有找到这条通知")
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
    assert _text(reply).startswith("没有找到这条通知")
    assert env.runtime.pending == {}  # nothing to confirm
    env.clock.advance(7 * DAY)
    preview, answer = await _say(env, ADMIN, "/broadcast later")
    assert _text(preview).startswith("下周六停水通知")  # shown from its date
    assert "还没有任何订阅" in _text(answer)  # no chat here is subscribed


async def test_a_digest_lists_a_notice_on_its_date(env: BotEnv) -> None:
    await _choose_digest(env, 204)
    _today_and_next_week(env)
    env.clock.advance(60)
    (digest,) = await _digests(env, 204)
    assert "今日停电通知" in digest and "下周六停水" not in digest
    env.clock.advance(7 * DAY)  # the digest of the notice's day
    (digest,) = await _digests(env, 204)
    assert digest.startswith("新通知汇总（共1条）") and "下周六停水通知" in digest


# --- 9: what a digest lists ------------------------------------------------------------


async def test_the_first_digest_lists_nothing_from_before_the_chat_chose_it(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        _ten_in_the_morning(env)
        old = datetime(2019, 3, 1, 9, 0, tzinfo=UTC).timestamp()
        for number in range(40):
            _notice(env, f"old{number}", f"2019年第{number}号通知", date=old + number * DAY)
        assert env.scan().first_scan  # the archive, recorded and not pushed
        await _choose_digest(env, 301)
        env.clock.advance(60)
        assert await _digests(env, 301) == []  # nothing new since the chat chose digests
        _notice(env, "old40", "2019年第40号通知", date=old)  # an old notice turns up
        _notice(env, "new", "明日停水通知")
        env.scan()
        env.clock.advance(DAY)
        (digest,) = await _digests(env, 301)
    assert digest.startswith("新通知汇总（共1条）") and "明日停水通知" in digest
    assert "2019年" not in digest  # too old to push, in a digest as anywhere


async def test_a_digest_retry_adds_what_came_in_between(env: BotEnv) -> None:
    await _choose_digest(env, 302)
    _notice(env, "first", "第一份通知")
    env.scan()
    env.clock.advance(60)
    env.emulator.fail(302, "sendMessage", REFUSED, times=2)
    assert await _digests(env, 302) == []  # refused: tried again in a minute
    _notice(env, "between", "第二份通知")
    env.scan()
    env.clock.advance(60)
    (digest,) = await _digests(env, 302)
    assert digest.startswith("新通知汇总（共2条）")
    assert "第一份通知" in digest and "第二份通知" in digest
    env.clock.advance(DAY)
    assert await _digests(env, 302) == []  # nothing twice, nothing new


async def test_a_retry_after_part_of_a_digest_went_out_sends_the_rest_then_the_newer(
    env: BotEnv,
) -> None:
    await _choose_digest(env, 303)
    for number in range(120):
        _notice(env, f"n{number:03d}", f"第{number:03d}号通知：本小区二期地下车库照明线路检修安排")
    env.scan()
    env.clock.advance(60)
    env.emulator.fail(303, "sendMessage", Fault(200, "OK"))  # the first part goes out
    env.emulator.fail(303, "sendMessage", REFUSED, times=2)  # the second is refused
    (first,) = await _digests(env, 303)
    _notice(env, "between", "补充通知")
    env.scan()
    env.clock.advance(60)
    rest = await _digests(env, 303)
    text = "\n".join([first, *rest])
    assert all(text.count(f"第{number:03d}号通知") == 1 for number in range(120))
    assert rest[-1].startswith("新通知汇总（共1条）") and "补充通知" in rest[-1]
    assert text.count("补充通知") == 1


async def test_a_chat_back_in_digest_mode_gets_only_what_came_since(env: BotEnv) -> None:
    menu = await _choose_digest(env, 304)
    env.clock.advance(60)
    assert await _digests(env, 304) == []
    await _press(env, 304, menu, "set:mode:card")
    _notice(env, "missed", "卡片模式时的通知")  # sent as a card
    env.scan()
    env.clock.advance(DAY)
    await _press(env, 304, menu, "set:digest:08:00")
    _notice(env, "wanted", "汇总模式时的通知")
    env.scan()
    env.clock.advance(60)
    (digest,) = await _digests(env, 304)
    assert "汇总模式时的通知" in digest and "卡片模式时的通知" not in digest


@ledgers.sqlite_only
def test_an_upgraded_ledger_starts_each_digest_chat_from_its_last_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version-11 ledger: digest chats get the time they start from (the last digest,
    or the upgrade); other chats get it when they choose digests. The clocks are the
    test's: the upgrade's (the migration reads the time itself) and the ledger's."""
    path = tmp_path / "db.sqlite"
    old = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:11]:
        migration(old)
    old.execute("PRAGMA user_version=11")
    chats = [
        {"id": 1, "type": "private", "mode": "digest", "last_digest_at": 1_700_000_000.0},
        {"id": 2, "type": "private", "mode": "digest"},
        {"id": 3, "type": "private", "mode": "card"},
    ]
    old["chats"].insert_all(chats)
    old.close()
    upgraded, chosen = 1_800_000_000.0, 1_800_003_600.0
    monkeypatch.setattr(schema, "time", SimpleNamespace(time=lambda: upgraded))
    store = Store(path, clock=lambda: chosen)
    assert store.chat(1).digest_since == 1_700_000_000.0
    assert store.chat(2).digest_since == upgraded
    assert store.chat(3).digest_since is None
    store.update_chat(1, mode="digest", digest_time="20:00")  # another time, same mode
    assert store.chat(1).digest_since == 1_700_000_000.0
    store.update_chat(3, mode="digest", digest_time="20:00")
    assert store.chat(3).digest_since == chosen
    store.close()
